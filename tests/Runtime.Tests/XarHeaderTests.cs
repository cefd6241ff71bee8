using System.Text;
using Xar.Runtime;
using Xar.Tests;

namespace Xar.Runtime.Tests;

public class XarHeaderTests
{
    private static byte[] WithImage(string headerText, int offset = 4096)
    {
        var bytes = new byte[offset + 96];
        var h = Encoding.UTF8.GetBytes(headerText);
        h.CopyTo(bytes, 0);
        bytes.AsSpan(h.Length, offset - h.Length).Fill((byte)'\n');
        "hsqs"u8.CopyTo(bytes.AsSpan(offset));
        return bytes;
    }

    private const string Good = "#!/usr/bin/env xarexec_fuse\nOFFSET=\"4096\"\nUUID=\"0f3a9c1d\"\nVERSION=\"1700000000\"\nXAREXEC_TARGET=\"xar_bootstrap.sh\"\n#xar_stop\necho no\nexit 1\n";

    [Fact]
    public void WrittenHeaderParsesBackWithSameValues()
    {
        var header = new XarHeader("0123abcdef456789", "1700000000", "xar_bootstrap.sh",
            [new("DEPENDENCIES", "python3 bash"), new("MOUNT_ROOT", "/tmp/m")]);
        var bytes = header.ToBytes();
        Assert.Equal(4096, bytes.Length);
        Assert.StartsWith("#!/usr/bin/env xarexec_fuse\nOFFSET=\"4096\"\n", Encoding.UTF8.GetString(bytes));
        var file = bytes.Concat("hsqs"u8.ToArray()).ToArray();
        var parsed = XarHeader.Parse(file);
        Assert.Equal(4096, parsed.Offset);
        Assert.Equal("0123abcdef456789", parsed.Uuid);
        Assert.Equal("1700000000", parsed.Version);
        Assert.Equal("xar_bootstrap.sh", parsed.ExecTarget);
        Assert.Equal("/tmp/m", parsed.MountRoot);
        Assert.Equal(["python3", "bash"], parsed.Dependencies);
    }

    [Fact]
    public void AcceptsOffset8192AndIgnoresUnknownNames()
    {
        var text = Good.Replace("OFFSET=\"4096\"", "OFFSET=\"8192\"").Replace("#xar_stop", "FOO=\"bar\"\n#xar_stop");
        var parsed = XarHeader.Parse(WithImage(text, 8192));
        Assert.Equal(8192, parsed.Offset);
        Assert.Equal("bar", parsed["FOO"]);
    }

    [Theory]
    [InlineData("", XarHeaderError.UnexpectedEndOfFile)]
    [InlineData("#!/bin/sh\nOFFSET=\"4096\"\n", XarHeaderError.InvalidShebang)]
    [InlineData("#!/usr/bin/env xarexec_fuse\n", XarHeaderError.UnexpectedEndOfFile)]
    [InlineData("#!/usr/bin/env xarexec_fuse\nUUID=\"ab\"\nOFFSET=\"4096\"\n", XarHeaderError.MissingParameters)]
    [InlineData("#!/usr/bin/env xarexec_fuse\nOFFSET=\"4095\"\n", XarHeaderError.InvalidOffset)]
    [InlineData("#!/usr/bin/env xarexec_fuse\nOFFSET=\"0\"\n", XarHeaderError.InvalidOffset)]
    [InlineData("#!/usr/bin/env xarexec_fuse\nOFFSET=\"-4096\"\n", XarHeaderError.InvalidOffset)]
    [InlineData("#!/usr/bin/env xarexec_fuse\nOFFSET=\"12288\"\n", XarHeaderError.InvalidOffset)]
    [InlineData("#!/usr/bin/env xarexec_fuse\nOFFSET=4096\n", XarHeaderError.MalformedLine)]
    [InlineData("#!/usr/bin/env xarexec_fuse\nOFFSET=\"4096\"\nUUID=\"a\"b\"\n", XarHeaderError.MalformedLine)]
    [InlineData("#!/usr/bin/env xarexec_fuse\nOFFSET=\"4096\"\n=\"x\"\n", XarHeaderError.MalformedLine)]
    [InlineData("#!/usr/bin/env xarexec_fuse\nOFFSET=\"4096\"\nUUID=\"ab\"\nUUID=\"cd\"\n#xar_stop\n", XarHeaderError.DuplicateParameter)]
    [InlineData("#!/usr/bin/env xarexec_fuse\nOFFSET=\"4096\"\nUUID=\"ab\"\nVERSION=\"1\"\n", XarHeaderError.UnexpectedEndOfFile)]
    [InlineData("#!/usr/bin/env xarexec_fuse\nOFFSET=\"4096\"\nVERSION=\"1\"\n#xar_stop\n", XarHeaderError.MissingParameters)]
    [InlineData("#!/usr/bin/env xarexec_fuse\nOFFSET=\"4096\"\nUUID=\"../../etc\"\nVERSION=\"1\"\n#xar_stop\n", XarHeaderError.InvalidUuid)]
    [InlineData("#!/usr/bin/env xarexec_fuse\nOFFSET=\"4096\"\nUUID=\"ab\"\nVERSION=\"1\"\nXAREXEC_TRAMPOLINE_NAMES=\"'a'\"\n#xar_stop\n", XarHeaderError.TrampolineError)]
    public void RejectsEachBrokenRuleWithItsOwnError(string text, XarHeaderError expected)
    {
        var ex = Assert.Throws<XarHeaderException>(() => XarHeader.Parse(text.Contains("#xar_stop") ? WithImage(text) : Encoding.UTF8.GetBytes(text)));
        Assert.Equal(expected, ex.Error);
        Assert.False(string.IsNullOrWhiteSpace(ex.Message));
    }

    [Fact]
    public void RejectsMissingMagicAndShortFile()
    {
        var bytes = WithImage(Good);
        bytes[4096] = (byte)'x';
        Assert.Equal(XarHeaderError.IncorrectMagic, Assert.Throws<XarHeaderException>(() => XarHeader.Parse(bytes)).Error);
        Assert.Equal(XarHeaderError.UnexpectedEndOfFile,
            Assert.Throws<XarHeaderException>(() => XarHeader.Parse(WithImage(Good).AsSpan(0, 4098))).Error);
    }

    [Fact]
    public void FuzzedHeadersNeverThrowAnythingButXarHeaderException()
    {
        var rng = new Random(20261126);
        var good = WithImage(Good);
        for (int i = 0; i < 20000; i++)
        {
            var b = (byte[])good.Clone();
            int flips = rng.Next(1, 6);
            for (int f = 0; f < flips; f++)
                b[rng.Next(0, 200)] = (byte)rng.Next(256);
            int len = rng.Next(4) == 0 ? rng.Next(0, b.Length) : b.Length;
            try
            {
                var h = XarHeader.Parse(b.AsSpan(0, len));
                Assert.True(h.Offset is 4096 or 8192);
                Assert.All(h.Uuid, c => Assert.True(char.IsAsciiHexDigit(c)));
            }
            catch (XarHeaderException)
            {
            }
        }
    }

    [Theory]
    [InlineData("xyz")]
    [InlineData("")]
    public void WriterRefusesBadUuid(string uuid) =>
        Assert.Throws<ArgumentException>(() => new XarHeader(uuid, "1"));

    [Fact]
    public void WriterRefusesQuoteInValue() =>
        Assert.Throws<ArgumentException>(() => new XarHeader("ab", "1", "a\"b"));

    [Fact]
    public void ExecAndExecArgsAccessorsReadTheNewFields()
    {
        var header = new XarHeader("0123abcdef456789", "1", "xar_bootstrap.sh",
            [new(XarHeader.ExecName, "bin/run"), new(XarHeader.ExecArgsName, "--flag a%20b ''")]);
        var parsed = XarHeader.Parse([.. header.ToBytes(), .. "hsqs"u8.ToArray()]);
        Assert.Equal("bin/run", parsed.Exec);
        Assert.Equal(["--flag"u8.ToArray(), "a b"u8.ToArray(), []], parsed.ExecArgs);

        var plain = new XarHeader("0123abcdef456789", "1", "run.sh");
        Assert.Null(plain.Exec);
        Assert.Null(plain.ExecArgs);

        var broken = XarHeader.Parse(WithImage(Good.Replace("#xar_stop", "XAR_EXEC_ARGS=\"a  b\"\n#xar_stop")));
        Assert.Equal(XarHeaderError.MalformedLine, Assert.Throws<XarHeaderException>(() => broken.ExecArgs).Error);
    }

    [Fact]
    public void WriterRefusesAHeaderLongerThanOffsetNamingTheLongestValue()
    {
        var error = Assert.Throws<ArgumentException>(() => new XarHeader("ab", "1", "run.sh",
            [new(XarHeader.ExecName, "bin/run"), new(XarHeader.ExecArgsName, new string('x', 4000))]));
        Assert.Contains("4096", error.Message);
        Assert.Contains(XarHeader.ExecArgsName, error.Message);
        // Just below the limit is fine, and fills the header exactly.
        // (The text ends with one newline; the padding adds more.)
        var probe = Encoding.UTF8.GetString(new XarHeader("ab", "1", null, [new("X", "")]).ToBytes()).TrimEnd('\n');
        int room = 4096 - (Encoding.UTF8.GetByteCount(probe) + 1);
        var full = new XarHeader("ab", "1", null, [new("X", new string('y', room))]);
        Assert.Equal(4096, full.ToBytes().Length);
        Assert.Throws<ArgumentException>(() => new XarHeader("ab", "1", null, [new("X", new string('y', room + 1))]));
    }

    [Theory]
    [InlineData("$(touch pwned)")]
    [InlineData("`touch pwned`")]
    [InlineData("a\\b")]
    public void WriterRefusesWhatShWouldExpand(string value) =>
        Assert.Throws<ArgumentException>(() => new XarHeader("ab", "1", "run.sh", [new(XarHeader.MountRootName, value)]));

    /// <summary>Run by sh (no launcher installed, or `sh app.xar`), the header says what to do instead, on stderr, and runs nothing else.</summary>
    [Theory]
    [InlineData("sh")]
    [InlineData("bash")]
    public void RunByShTheHeaderSaysHowToRunIt(string shell)
    {
        using var tmp = new TempDir("header-sh");
        string file = tmp["app.xar"];
        var header = new XarHeader("0123456789abcdef", "1", "xar_bootstrap.sh",
            [new(XarHeader.ExecName, "bin/app"), new(XarHeader.ExecArgsName, XarExecArguments.Encode(["$(touch pwned)"u8.ToArray(), "`touch pwned`"u8.ToArray()]))]);
        byte[] bytes = [.. header.ToBytes(), .. "hsqs"u8.ToArray(), .. new byte[64]];
        File.WriteAllBytes(file, bytes);
        var r = TestEnv.Run(new RunOptions(shell, [file]) { WorkingDirectory = tmp.Path });
        Assert.Equal(1, r.ExitCode);
        Assert.Equal("", r.StandardOutput);
        Assert.Contains("xarexec", r.StandardError);
        Assert.Contains("make install", r.StandardError);
        Assert.Contains("self-contained", r.StandardError);
        Assert.DoesNotContain("should not be executed", r.StandardError);
        Assert.False(File.Exists(tmp["pwned"]));
        // Still Facebook's layout: the shebang, OFFSET on line 2, the stop marker, the image at 4096.
        var text = Encoding.UTF8.GetString(bytes, 0, 4096).Split('\n');
        Assert.Equal(XarHeader.Shebang, text[0]);
        Assert.Equal("OFFSET=\"4096\"", text[1]);
        Assert.Contains(XarHeader.StopMarker, text);
        Assert.Equal("0123456789abcdef", XarHeader.Parse(bytes).Uuid);
    }
}
