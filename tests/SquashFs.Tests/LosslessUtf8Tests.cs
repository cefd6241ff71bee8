using System.Text;
using Xar.Posix;
using Xunit;

namespace Xar.SquashFs.Tests;

/// <summary>Names that are not UTF-8 survive a trip through a .NET string, and reach libc as the same bytes.</summary>
public sealed class LosslessUtf8Tests
{
    public static TheoryData<byte[]> Names => new()
    {
        "plain/ascii"u8.ToArray(),
        "caf\u00e9 \u65e5\u672c \U0001F600"u8.ToArray(),
        new byte[] { (byte)'r', 0xff },
        new byte[] { 0xc3 },                     // a lead byte without its continuation
        new byte[] { 0xc3, (byte)'a', 0xa9 },    // a continuation out of place
        new byte[] { 0xed, 0xb3, 0xbf },         // the UTF-8 form of the surrogate U+DCFF, which UTF-8 forbids
        new byte[] { 0xf0, 0x9f, 0x98 },         // a 4-byte sequence cut short
        new byte[] { 0x80, 0xff, 0xfe, (byte)'/', 0xc3, 0xa9 },
    };

    [Theory]
    [MemberData(nameof(Names))]
    public void DecodeThenEncodeGivesTheSameBytes(byte[] name) =>
        Assert.Equal(name, LosslessUtf8.Encode(LosslessUtf8.Decode(name)));

    [Fact]
    public void EveryByteSequenceOfTwoRoundTrips()
    {
        var name = new byte[2];
        for (int a = 1; a < 256; a++)
        {
            for (int b = 1; b < 256; b++)
            {
                name[0] = (byte)a;
                name[1] = (byte)b;
                Assert.Equal(name, LosslessUtf8.Encode(LosslessUtf8.Decode(name)));
            }
        }
    }

    [Fact]
    public void ValidUtf8IsPlainUtf8BothWays()
    {
        const string text = "d\u00e9j\u00e0/\U0001F600";
        Assert.Equal(text, LosslessUtf8.Decode(Encoding.UTF8.GetBytes(text)));
        Assert.Equal(Encoding.UTF8.GetBytes(text), LosslessUtf8.Encode(text));
        Assert.Equal(text, LosslessUtf8.Display(text));
    }

    [Fact]
    public void DisplayEscapesTheBytesThatAreNotUtf8()
    {
        string decoded = LosslessUtf8.Decode([(byte)'/', (byte)'r', 0xff, (byte)'/', 0xc3, 0xa9]);
        Assert.Equal("/r\\xff/\u00e9", LosslessUtf8.Display(decoded));
    }

    [Fact]
    public void EscapeKeepsControlCharactersAndEscapesTheRest()
    {
        Assert.Equal("a\nb", LosslessUtf8.Escape("a\nb"u8));
        Assert.Equal("r\\xff\n\u00e9", LosslessUtf8.Escape([(byte)'r', 0xff, (byte)'\n', 0xc3, 0xa9]));
    }

    [Fact]
    public void LibcGetsTheOriginalBytes()
    {
        using var tmp = new Xar.Tests.TempDir("lossless");
        byte[] name = NativePath.Join(Encoding.UTF8.GetBytes(tmp.Path), [(byte)'n', 0xff, 0x80]);
        string path = LosslessUtf8.Decode(name);
        Assert.Equal(0, LibC.Mkdir(path, Convert.ToInt32("755", 8))); // through the string overload
        unsafe
        {
            fixed (byte* raw = NativePath.ToCString(name))
            {
                int fd = LibC.Open(raw, LibC.O_RDONLY | LibC.O_DIRECTORY | LibC.O_CLOEXEC, 0); // the bytes name it
                Assert.True(fd >= 0, LibC.Describe(LibC.LastError));
                LibC.Close(fd);
            }
        }
        Assert.Equal(0, LibC.Rmdir(path));
        Assert.Empty(Directory.EnumerateFileSystemEntries(tmp.Path));
    }
}
