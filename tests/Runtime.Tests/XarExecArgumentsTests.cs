using System.Text;

namespace Xar.Runtime.Tests;

/// <summary>XAR_EXEC_ARGS: the entrypoint's fixed arguments, percent-encoded, one space apart.</summary>
public class XarExecArgumentsTests
{
    private static byte[] B(string s) => Encoding.UTF8.GetBytes(s);

    [Fact]
    public void EncodesWhatAShellOrTheHeaderWouldTakeAndKeepsTheRestReadable()
    {
        byte[][] arguments = [B("--flag"), B("a b"), [], B("100%"), B("\"'\\$`"), [0xFF, (byte)'\n', 0x7F], B("é")];
        string value = XarExecArguments.Encode(arguments);
        Assert.Equal("--flag a%20b '' 100%25 %22%27%5C%24%60 %FF%0A%7F %C3%A9", value);
        Assert.True(XarHeader.IsWritableValue(value));
        Assert.Equal(arguments, XarExecArguments.Decode(value));
    }

    [Fact]
    public void EmptyArgumentsAreTheirOwnToken()
    {
        Assert.Equal("''", XarExecArguments.Encode([[]]));
        Assert.Equal("'' ''", XarExecArguments.Encode([[], []]));
        Assert.Equal([Array.Empty<byte>()], XarExecArguments.Decode("''"));
        Assert.Equal([B("''")], XarExecArguments.Decode("%27%27")); // two quotes, not an empty argument
    }

    [Fact]
    public void ArbitraryBytesRoundTrip()
    {
        var random = new Random(20261202);
        for (int round = 0; round < 2000; round++)
        {
            var arguments = new byte[random.Next(1, 6)][];
            for (int i = 0; i < arguments.Length; i++)
            {
                arguments[i] = new byte[random.Next(0, 12)];
                random.NextBytes(arguments[i]);
                for (int j = 0; j < arguments[i].Length; j++)
                    arguments[i][j] = arguments[i][j] == 0 ? (byte)1 : arguments[i][j];
            }
            string value = XarExecArguments.Encode(arguments);
            Assert.True(XarHeader.IsWritableValue(value), value);
            Assert.DoesNotContain("  ", value);
            Assert.True(XarExecArguments.TryDecode(Encoding.ASCII.GetBytes(value), out var decoded), value);
            Assert.Equal(arguments, decoded);
            Assert.True(XarExecArguments.IsValid(Encoding.ASCII.GetBytes(value)));
        }
    }

    [Fact]
    public void DecodesLowerCaseHexAndPrintableBytesLeftAsTheyAre()
    {
        Assert.Equal([B("a b"), B("$x")], XarExecArguments.Decode("a%20b $x"));
        Assert.Equal([new byte[] { 0xAB }], XarExecArguments.Decode("%ab"));
    }

    [Theory]
    [InlineData("")]
    [InlineData(" ")]
    [InlineData(" a")]
    [InlineData("a ")]
    [InlineData("a  b")]
    [InlineData("%")]
    [InlineData("%2")]
    [InlineData("a%2")]
    [InlineData("%zz")]
    [InlineData("%00")]
    [InlineData("'")]
    [InlineData("a'b")]
    [InlineData("'''")]
    [InlineData("\"")]
    [InlineData("a\tb")]
    [InlineData("é")]
    public void RefusesMalformedValues(string value)
    {
        byte[] bytes = Encoding.UTF8.GetBytes(value);
        Assert.False(XarExecArguments.TryDecode(bytes, out _));
        Assert.False(XarExecArguments.IsValid(bytes));
        var error = Assert.Throws<XarHeaderException>(() => XarExecArguments.Decode(value));
        Assert.Contains("XAR_EXEC_ARGS", error.Message);
    }

    [Fact]
    public void RefusesNulAndAnEmptyList()
    {
        Assert.Throws<ArgumentException>(() => XarExecArguments.Encode([[(byte)'a', 0]]));
        Assert.Throws<ArgumentException>(() => XarExecArguments.Encode([]));
    }

    [Fact]
    public void DecodesOneArgumentAtATimeWithoutAllocating()
    {
        ReadOnlySpan<byte> rest = "ab%20c '' d"u8;
        Span<byte> buffer = stackalloc byte[16];
        Assert.True(XarExecArguments.TryDecodeNext(ref rest, buffer, out int length));
        Assert.Equal("ab c", Encoding.ASCII.GetString(buffer[..length]));
        Assert.True(XarExecArguments.TryDecodeNext(ref rest, buffer, out length));
        Assert.Equal(0, length);
        Assert.True(XarExecArguments.TryDecodeNext(ref rest, buffer, out length));
        Assert.Equal("d", Encoding.ASCII.GetString(buffer[..length]));
        Assert.True(rest.IsEmpty);
        // A destination shorter than the argument is refused, not overrun.
        rest = "abcdef"u8;
        Assert.False(XarExecArguments.TryDecodeNext(ref rest, buffer[..3], out _));
    }
}
