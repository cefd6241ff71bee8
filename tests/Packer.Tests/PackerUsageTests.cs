using Xar.Tests;

namespace Xar.Packer.Tests;

/// <summary>The `xar` command line as a whole: help, unknown commands, parse errors, a directory given as FILE.</summary>
public class PackerUsageTests
{
    [Fact]
    public void HelpExitsZero() => Assert.Equal(0, Xar.Packer.Program.Main(["--help"]));

    /// <summary>The top-level list showed `ls <FILE> <PATH>` and `extract <FILE> <PATH>`, as if PATH were required.</summary>
    [Fact]
    public void TopLevelHelpShowsOptionalArgumentsAsOptional()
    {
        string help = XarCli.Run("--help").EnsureSuccess("xar --help").StandardOutput;
        Assert.Contains("  ls <FILE> [<PATH>] ", help);
        Assert.Contains("  extract <FILE> [<PATH>...] ", help);
        Assert.Contains("  run <FILE> [<ARGS>...] ", help);
        Assert.Contains("  cat <FILE> <PATH> ", help);
        Assert.DoesNotContain("ls <FILE> <PATH>", help);
        // The descriptions still line up in one column.
        var rows = help[help.IndexOf("Commands:", StringComparison.Ordinal)..].Split('\n').Skip(1).Where(l => l.StartsWith("  ", StringComparison.Ordinal)).ToArray();
        Assert.True(rows.Length >= 10);
        Assert.Single(rows.Select(DescriptionColumn).Distinct());
    }

    /// <summary>Where the description starts: after the label and the gap of two or more spaces.</summary>
    private static int DescriptionColumn(string row)
    {
        int i = row.IndexOf("  ", 2, StringComparison.Ordinal);
        while (row[i] == ' ')
            i++;
        return i;
    }

    /// <summary>Parse errors used to print one line per error, and a value list over several lines.</summary>
    [SkippableTheory]
    [InlineData("pack", "SRC", "-o", "OUT", "-c", "lzo")]
    [InlineData("info", "IMG", "extra1", "extra2")]
    [InlineData("ls", "IMG", "--bogus", "-x")]
    public void ParseErrorsAreOneLine(params string[] args)
    {
        using var tmp = new TempDir("usage");
        var (tree, image) = XarCli.Make(tmp);
        var resolved = args.Select(a => a switch { "SRC" => tree, "OUT" => tmp["out.xar"], "IMG" => image, _ => a }).ToArray();
        var r = TestEnv.Run(new RunOptions(XarBinary.Path, resolved));
        XarCli.AssertBadInput(r);
        Assert.False(File.Exists(tmp["out.xar"]));
    }

    [SkippableFact]
    public void UnknownCommandIsNamed()
    {
        var r = TestEnv.Run(new RunOptions(XarBinary.Path, ["bogus"]));
        XarCli.AssertBadInput(r);
        Assert.Contains("bogus", r.StandardError);
    }

    /// <summary>
    /// A directory given as FILE: `xar mount DIR` said "Access to the path is denied" with exit 1,
    /// `xar run DIR` said "no such file". Both are bad input, exit 2, saying what it is.
    /// </summary>
    [SkippableTheory]
    [InlineData("mount")]
    [InlineData("run")]
    [InlineData("info")]
    [InlineData("ls")]
    [InlineData("cat")]
    [InlineData("extract")]
    [InlineData("verify")]
    public void DirectoryGivenAsFileIsBadInput(string command)
    {
        using var tmp = new TempDir("usage");
        string dir = tmp["somedir"];
        Directory.CreateDirectory(dir);
        var r = TestEnv.Run(new RunOptions(XarBinary.Path, Arguments(command, dir, tmp)) { Environment = new Dictionary<string, string?> { ["XAR_MOUNT_ROOT"] = tmp["nomount"] } });
        XarCli.AssertBadInput(r);
        Assert.Contains("directory", r.StandardError);
        Assert.False(Path.Exists(tmp["out"]));
    }

    /// <summary>COMMAND with FILE, and what else it needs to get as far as opening FILE (an extraction target, a key).</summary>
    private static string[] Arguments(string command, string file, TempDir tmp)
    {
        switch (command)
        {
            case "cat":
                return [command, file, "x"];
            case "extract":
                return [command, file, "-o", tmp["out"]];
            case "sign":
                string key = tmp["key"];
                File.WriteAllText(key, "not read: the file is refused first\n");
                File.SetUnixFileMode(key, UnixFileMode.UserRead | UnixFileMode.UserWrite);
                return [command, file, "--key", key];
            default:
                return [command, file];
        }
    }

    /// <summary>
    /// A FIFO given as FILE: every command blocked in open(2) until a writer came (forever, in a script), and a pipe
    /// as /dev/stdin ended in "unexpected error: NotSupportedException". A FIFO, socket or character device holds no
    /// image: bad input at once, one line, exit 2 (the launcher's 127 for xarexec), nothing written.
    /// </summary>
    [Theory]
    [InlineData("mount")]
    [InlineData("run")]
    [InlineData("info")]
    [InlineData("ls")]
    [InlineData("cat")]
    [InlineData("extract")]
    [InlineData("verify")]
    [InlineData("sign")]
    [InlineData("xarexec")]
    [InlineData("info /dev/zero")]
    public void FifoOrDeviceGivenAsFileIsRefusedAtOnce(string command)
    {
        using var tmp = new TempDir("usage-fifo");
        string fifo = tmp["pipe"];
        TestEnv.Run("mkfifo", [fifo]).EnsureSuccess("mkfifo");
        string[] args = command switch
        {
            "info /dev/zero" => ["info", "/dev/zero"],
            "xarexec" => [fifo],
            _ => Arguments(command, fifo, tmp),
        };
        var r = TestEnv.Run(new RunOptions(command == "xarexec" ? LauncherBinary.Path : XarBinary.Path, args)
        {
            Environment = new Dictionary<string, string?> { ["XAR_MOUNT_ROOT"] = tmp["nomount"], ["XAR_CACHE_DIR"] = tmp["nocache"] },
            TimeoutMs = 20_000,
        });
        if (command == "xarexec")
        {
            Assert.Equal(127, r.ExitCode);
            Assert.Equal($"xarexec: {fifo}: is not a regular file (a FIFO, socket or terminal holds no XAR)\n", r.StandardError);
        }
        else
        {
            XarCli.AssertBadInput(r, "not a regular file");
        }
        Assert.False(Path.Exists(tmp["out"]));
        Assert.False(Path.Exists(tmp["nocache"]));
    }

    /// <summary>
    /// With stderr closed (<c>2&gt;&amp;-</c>) or full, a failing command aborted (SIGABRT, exit 134: .NET could not set up
    /// its error writer, or the write threw), and a successful pack did too, after writing OUT. The message is lost;
    /// the exit status is not.
    /// </summary>
    [Theory]
    [InlineData("exec 2>&-", 2)]
    [InlineData("exec 2>/dev/full", 2)]
    [InlineData("exec 2>&-; pack=1", 0)]
    public void AClosedOrFullStandardErrorKeepsTheExitStatus(string redirect, int expected)
    {
        using var tmp = new TempDir("usage-stderr");
        Directory.CreateDirectory(tmp["src"]);
        File.WriteAllText(tmp["src/f"], "f\n");
        string script = redirect + """
            ; if [ -n "$pack" ]; then "$1" pack "$2/src" -o "$2/out.xar"; else "$1" info "$2/missing"; fi; echo $? > "$2/status"
            """;
        TestEnv.Run("/bin/sh", ["-c", script, "sh", XarBinary.Path, tmp.Path]);
        Assert.Equal($"{expected}\n", File.ReadAllText(tmp["status"]));
        Assert.Equal(expected == 0, File.Exists(tmp["out.xar"]));
    }

    /// <summary>`--sort /dev/zero` read without end (3.5 GB in 6 s); a FIFO blocked. Option files (and keys) must be regular files.</summary>
    [Fact]
    public void AnOptionFileThatIsNotARegularFileIsRefused()
    {
        using var tmp = new TempDir("usage-sortfile");
        Directory.CreateDirectory(tmp["src"]);
        File.WriteAllText(tmp["src/f"], "f\n");
        var r = TestEnv.Run(new RunOptions(XarBinary.Path, ["pack", tmp["src"], "-o", tmp["out.xar"], "--sort", "/dev/zero"]) { TimeoutMs = 20_000 });
        XarCli.AssertBadInput(r, "sort file: is not a regular file");
        Assert.False(File.Exists(tmp["out.xar"]));
        // A FIFO named by --key is refused, now checked on the descriptor the key is read from.
        XarCli.Run("pack", tmp["src"], "-o", tmp["a.xar"], "-q").EnsureSuccess("xar pack");
        TestEnv.Run("mkfifo", [tmp["key.pub"]]).EnsureSuccess("mkfifo");
        var key = TestEnv.Run(new RunOptions(XarBinary.Path, ["verify", tmp["a.xar"], "--key", tmp["key.pub"]]) { TimeoutMs = 20_000 });
        XarCli.AssertBadInput(key, "the key is not a regular file");
    }

    /// <summary>
    /// Messages that named the wrong problem: "--offset abc" as "expected type 'System.Nullable`1[System.Int64]'", an
    /// --offset past the end as "image is 0 bytes, shorter than a superblock", an OFFSET of 23 digits as "not an unsigned
    /// integer", and help written to a full disk as "unexpected error: IOException".
    /// </summary>
    [Fact]
    public void MessagesNameTheProblem()
    {
        using var tmp = new TempDir("usage-messages");
        Directory.CreateDirectory(tmp["src"]);
        XarCli.Run("pack", tmp["src"], "-o", tmp["a.sqfs"], "--format", "squashfs", "-q").EnsureSuccess("xar pack");
        XarCli.AssertBadInput(XarCli.Run("info", tmp["a.sqfs"], "--offset", "abc"), "--offset wants a byte offset, a whole number from 0, not 'abc'");
        XarCli.AssertBadInput(XarCli.Run("ls", tmp["a.sqfs"], "--offset", "99999999999"), "no image at byte 99999999999: the file ends there or before");
        File.WriteAllText(tmp["huge.xar"], "#!/usr/bin/env xarexec_fuse\nOFFSET=\"99999999999999999999999\"\n");
        XarCli.AssertBadInput(XarCli.Run("info", tmp["huge.xar"]), "OFFSET 99999999999999999999999 is greater than the largest header (8192)");
        var full = TestEnv.Run("/bin/sh", ["-c", "\"$0\" --help > /dev/full", XarBinary.Path]);
        Assert.Equal(1, full.ExitCode);
        Assert.Equal("xar: standard output: No space left on device\n", full.StandardError);
    }
}
