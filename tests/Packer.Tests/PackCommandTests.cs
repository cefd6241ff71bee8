using System.Runtime.Versioning;
using Xar.Packer.Cli;
using Xar.Packer.Commands;
using Xar.Runtime;
using Xar.SquashFs;
using Xar.Tests;

namespace Xar.Packer.Tests;

/// <summary>`xar pack` usage: exit statuses, no partial output, option parsing, sort and exclude effects.</summary>
[SupportedOSPlatform("linux")]
public class PackCommandTests
{
    private static TempDir Tree()
    {
        var dir = new TempDir("pack");
        Directory.CreateDirectory(dir["src/bin"]);
        File.WriteAllText(dir["src/bin/app"], "#!/bin/sh\necho hi\n");
        File.SetUnixFileMode(dir["src/bin/app"], (UnixFileMode)0x1ED);
        File.WriteAllText(dir["src/data.txt"], "data\n");
        return dir;
    }

    private static int Pack(params string[] args) => Program.Main(["pack", .. args, "--quiet"]);

    /// <summary>Runs `xar pack ARGS` in this process (no --quiet added): (exit status, stderr).</summary>
    private static (int Status, string Error) PackCapturingErrors(params string[] args)
    {
        var error = new StringWriter();
        var saved = Console.Error;
        Console.SetError(error);
        try
        {
            return (Program.Main(["pack", .. args]), error.ToString());
        }
        finally
        {
            Console.SetError(saved);
        }
    }

    /// <summary>The archive's files, extracted into DIR/x, and its bootstrap run there as a launcher would: stdout.</summary>
    private static string RunBootstrap(TempDir dir, string xar, params string[] callerArguments)
    {
        string tree = dir["x"];
        using (var archive = XarArchive.Open(xar))
            SquashFsFile.ExtractToDirectory(archive.Image, tree);
        var header = XarHeader.ReadFromFile(xar);
        string output = TestEnv.Run("/bin/sh", ["-e", Path.Combine(tree, header.ExecTarget!), xar, .. callerArguments]).EnsureSuccess("bootstrap").StandardOutput;
        Directory.Delete(tree, recursive: true);
        return output;
    }

    private static string[] Leftovers(TempDir dir) =>
        Directory.GetFiles(dir.Path).Select(Path.GetFileName).Where(n => n!.Contains(".tmp")).ToArray()!;

    [Theory]
    [InlineData("--mtime", "-5")]
    [InlineData("--mtime", "4294967296")]
    [InlineData("--uid", "x")]
    [InlineData("--gid", "1.5")]
    public void OwnerAndTimeOutOfRangeSayWhatTheyWant(string option, string value)
    {
        using var dir = Tree();
        var error = new StringWriter();
        var saved = Console.Error;
        Console.SetError(error);
        int status;
        try
        {
            status = Pack(dir["src"], "-o", dir["out"], option, value);
        }
        finally
        {
            Console.SetError(saved);
        }
        Assert.Equal(ExitCodes.BadInput, status);
        Assert.StartsWith($"xar: {option} wants ", error.ToString());
        Assert.Contains("0 to 4294967295", error.ToString());
        Assert.DoesNotContain("System.", error.ToString());
        Assert.False(File.Exists(dir["out"]));
    }

    [Fact]
    public void PacksAnExecutableXarAndABareImage()
    {
        using var dir = Tree();
        Assert.Equal(0, Pack(dir["src"], "-o", dir["a.xar"], "--exec", "bin/app", "-c", "gzip"));
        Assert.Equal((UnixFileMode)0x1ED, File.GetUnixFileMode(dir["a.xar"]));
        Assert.StartsWith("#!/usr/bin/env xarexec_fuse\n", File.ReadAllText(dir["a.xar"])[..40]);
        Assert.Equal(0, Pack(dir["src"], "-o", dir["a.sqfs"], "--format", "squashfs", "-c", "none"));
        Assert.True("hsqs"u8.SequenceEqual(File.ReadAllBytes(dir["a.sqfs"]).AsSpan(0, 4)));
        Assert.Empty(Leftovers(dir));
    }

    [Theory]
    [InlineData("--block-size", "3K")]
    [InlineData("--block-size", "2M")]
    [InlineData("--block-size", "2K")]
    [InlineData("-b", "abc")]
    [InlineData("-b", "100000")]
    [InlineData("--level", "23")]
    [InlineData("--level", "0")]
    [InlineData("--jobs", "0")]
    [InlineData("--compression", "brotli")]
    [InlineData("--format", "zip")]
    [InlineData("--exec", "bin/missing")]
    [InlineData("--exec", "data.txt")]
    [InlineData("--exec", "../escape")]
    public void BadOptionsExitTwoAndLeaveOutputAlone(string option, string value)
    {
        using var dir = Tree();
        File.WriteAllText(dir["out"], "previous");
        Assert.Equal(ExitCodes.BadInput, Pack(dir["src"], "-o", dir["out"], option, value));
        Assert.Equal("previous", File.ReadAllText(dir["out"]));
        Assert.Empty(Leftovers(dir));
    }

    [Fact]
    public void MissingSourceExitsTwoAndWritesNothing()
    {
        using var dir = Tree();
        Assert.Equal(ExitCodes.BadInput, Pack(dir["nope"], "-o", dir["out"]));
        Assert.False(File.Exists(dir["out"]));
        Assert.Empty(Leftovers(dir));
    }

    [Fact]
    public void SourceThatIsAFileExitsTwo()
    {
        using var dir = Tree();
        Assert.Equal(ExitCodes.BadInput, Pack(dir["src/data.txt"], "-o", dir["out"]));
        Assert.False(File.Exists(dir["out"]));
    }

    [Fact]
    public void ConflictingOptionsExitTwo()
    {
        using var dir = Tree();
        Assert.Equal(ExitCodes.BadInput, Pack(dir["src"], "-o", dir["out"], "--all-root", "--uid", "5"));
        Assert.Equal(ExitCodes.BadInput, Pack(dir["src"], "-o", dir["out"], "--format", "squashfs", "--exec", "bin/app"));
        Assert.Equal(ExitCodes.BadInput, Pack(dir["src"], "-o", dir["out"], "-c", "none", "--level", "3"));
        Assert.False(File.Exists(dir["out"]));
    }

    [Fact]
    public void BadSortFileExitsTwo()
    {
        using var dir = Tree();
        File.WriteAllText(dir["sort"], "data.txt notanumber\n");
        Assert.Equal(ExitCodes.BadInput, Pack(dir["src"], "-o", dir["out"], "--sort", dir["sort"]));
        File.WriteAllText(dir["sort"], "data.txt 40000\n");
        Assert.Equal(ExitCodes.BadInput, Pack(dir["src"], "-o", dir["out"], "--sort", dir["sort"]));
        Assert.Equal(ExitCodes.BadInput, Pack(dir["src"], "-o", dir["out"], "--sort", dir["missing-sort"]));
        Assert.False(File.Exists(dir["out"]));
    }

    [Fact]
    public void OutputIntoAMissingDirectoryFailsWithoutLeftovers()
    {
        using var dir = Tree();
        Assert.Equal(ExitCodes.BadInput, Pack(dir["src"], "-o", dir["no/such/dir/out"]));
        Assert.Equal(ExitCodes.BadInput, Pack(dir["src"], "-o", dir["src"]));
        Assert.False(Directory.Exists(dir["no"]));
    }

    [SkippableFact]
    public void OutputInsideTheSourceIsLeftOutOfTheImage()
    {
        TestEnv.RequireTool("unsquashfs");
        using var dir = Tree();
        string output = dir["src/out.sqfs"];
        Assert.Equal(0, Pack(dir["src"], "-o", output, "--format", "squashfs"));
        // Packing again over it is refused now (it is a file of the tree): see OutputThatNamesAnExistingFileInsideTheSourceIsRefused.
        Assert.Equal(ExitCodes.BadInput, Pack(dir["src"], "-o", output, "--format", "squashfs"));
        var list = TestEnv.Run("unsquashfs", "-l", output).EnsureSuccess("unsquashfs -l").StandardOutput;
        Assert.Equal(["squashfs-root", "squashfs-root/bin", "squashfs-root/bin/app", "squashfs-root/data.txt"],
            list.Split('\n').Where(l => l.StartsWith("squashfs-root", StringComparison.Ordinal)));
    }

    /// <summary>
    /// `xar pack LINK -o OUT` (and even `LINK/`) where LINK is a symlink to the application's
    /// directory failed with "not a directory". The tree it names is packed, as the kernel sees it.
    /// </summary>
    [SkippableTheory]
    [InlineData("")]
    [InlineData("/")]
    public void PackFollowsSymlinkedSourceDirectory(string suffix)
    {
        using var tmp = new TempDir("pack-symlink");
        string tree = tmp["tree"];
        Directory.CreateDirectory(Path.Combine(tree, "d"));
        File.WriteAllText(Path.Combine(tree, "d", "f"), "f\n");
        string link = tmp["link"];
        File.CreateSymbolicLink(link, tree);
        string image = tmp["out.sqfs"];
        var r = XarCli.Run("pack", link + suffix, "-o", image, "--format", "squashfs", "--quiet");
        Assert.True(r.ExitCode == 0, r.StandardError);
        // The peer's view of the image: the kernel as root, else unsquashfs.
        TestEnv.AssertTreesEqual(tree, image, "--via-b", TestEnv.IsRoot ? "kernel" : "unsquashfs");
    }

    /// <summary>`--exec run --exclude run` (or excluding a parent of it) wrote, with exit 0, a XAR that cannot start.</summary>
    [SkippableTheory]
    [InlineData("run", "run")]
    [InlineData("bin/run", "bin")]
    [InlineData("bin/run", "r*")]
    public void ExecTargetLeftOutByExcludeIsBadUsage(string exec, string exclude)
    {
        using var tmp = new TempDir("pack-exclude-exec");
        string tree = tmp["tree"];
        string script = Path.Combine(tree, exec);
        Directory.CreateDirectory(Path.GetDirectoryName(script)!);
        File.WriteAllText(script, "#!/bin/sh\necho hi\n");
        TestEnv.Run("chmod", "0755", script).EnsureSuccess("chmod");
        var r = XarCli.Run("pack", tree, "-o", tmp["out.xar"], "--exec", exec, "--exclude", exclude, "--quiet");
        XarCli.AssertBadInput(r);
        Assert.Contains("--exclude", r.StandardError);
        Assert.False(File.Exists(tmp["out.xar"]));
    }

    [Theory]
    [InlineData("131072", 131072)]
    [InlineData("128K", 131072)]
    [InlineData("128k", 131072)]
    [InlineData("1M", 1048576)]
    [InlineData("4K", 4096)]
    [InlineData("4096", 4096)]
    public void BlockSizes(string text, int bytes) => Assert.Equal(bytes, Xar.Packer.Cli.PackOptions.ParseBlockSize(text));

    [Fact]
    public void SortFileLines()
    {
        // As in mksquashfs: "/", "./" and "../" paths name files on disk (from the current directory),
        // anything else is relative to SOURCE_DIR; "DIR/*" is DIR.
        var p = SortFile.Parse(["# comment", "", "./src/a/b c 10", "/work/src/x -5", "dir/\t32767", "lib/* 7",
            "../work/src/up 3", "/elsewhere/y 1", "src 2", "/work/src/ 4"], "f", "src", "/work");
        Assert.Equal(10, p["a/b c"]);
        Assert.Equal(-5, p["x"]);
        Assert.Equal(32767, p["dir"]);
        Assert.Equal(7, p["lib"]);
        Assert.Equal(3, p["up"]);
        Assert.Equal(1, p["/elsewhere/y"]); // outside SOURCE_DIR: matches nothing, reported as such
        Assert.Equal(2, p["src"]); // relative to SOURCE_DIR: src/src
        Assert.Equal(4, p[""]); // SOURCE_DIR itself
        Assert.Equal(8, p.Count);
        Assert.Throws<UsageException>(() => SortFile.Parse(["noprio"], "f", "src", "/work"));
    }

    /// <summary>With no compression the file bytes lie in the image as they are: their order shows the data order.</summary>
    [Fact]
    public void SortPrioritiesPutFilesFirstAndExcludesLeaveThemOut()
    {
        using var dir = new TempDir("sort");
        Directory.CreateDirectory(dir["src/lib"]);
        File.WriteAllText(dir["src/a-first-by-name"], "MARKER-A " + new string('a', 5000));
        File.WriteAllText(dir["src/lib/z-late-by-name"], "MARKER-Z " + new string('z', 5000));
        File.WriteAllText(dir["src/secret.key"], "MARKER-SECRET");
        File.WriteAllText(dir["sort"], "lib 100\n");
        Assert.Equal(0, Pack(dir["src"], "-o", dir["img"], "--format", "squashfs", "-c", "none", "--sort", dir["sort"],
            "--exclude", "*.key", "--no-fragments"));
        string image = System.Text.Encoding.Latin1.GetString(File.ReadAllBytes(dir["img"]));
        int a = image.IndexOf("MARKER-A", StringComparison.Ordinal), z = image.IndexOf("MARKER-Z", StringComparison.Ordinal);
        Assert.True(a > 0 && z > 0);
        Assert.True(z < a, "the higher-priority file is stored first");
        Assert.DoesNotContain("MARKER-SECRET", image);
        Assert.DoesNotContain("secret.key", image);

        Assert.Equal(0, Pack(dir["src"], "-o", dir["img2"], "--format", "squashfs", "-c", "none", "--no-fragments"));
        string plain = System.Text.Encoding.Latin1.GetString(File.ReadAllBytes(dir["img2"]));
        Assert.True(plain.IndexOf("MARKER-A", StringComparison.Ordinal) < plain.IndexOf("MARKER-Z", StringComparison.Ordinal));
        Assert.Contains("MARKER-SECRET", plain);
    }

    [Fact]
    public void DuplicateFilesAreStoredOnceUnlessNoDedup()
    {
        using var dir = new TempDir("dedup");
        Directory.CreateDirectory(dir["src"]);
        var random = new Random(3);
        var content = new byte[300_000];
        random.NextBytes(content);
        File.WriteAllBytes(dir["src/one"], content);
        File.WriteAllBytes(dir["src/two"], content);
        Assert.Equal(0, Pack(dir["src"], "-o", dir["dedup"], "--format", "squashfs", "-c", "gzip"));
        Assert.Equal(0, Pack(dir["src"], "-o", dir["nodedup"], "--format", "squashfs", "-c", "gzip", "--no-dedup"));
        long once = new FileInfo(dir["dedup"]).Length, twice = new FileInfo(dir["nodedup"]).Length;
        Assert.InRange(once, 300_000, 320_000);
        Assert.InRange(twice, 600_000, 620_000);
    }

    [Fact]
    public void ExecArgsComeBeforeTheArchivesArguments()
    {
        using var dir = Tree();
        File.WriteAllText(dir["src/bin/app"], "#!/bin/sh\nfor a in \"$@\"; do printf '[%s]' \"$a\"; done; echo\n");
        Assert.Equal(0, Pack(dir["src"], "-o", dir["a.xar"], "--exec", "./bin/app",
            "--exec-arg", "--flag", "--exec-arg=-x", "--exec-arg", "a b", "--exec-arg", "", "--exec-arg", "it's $HOME"));
        Assert.Equal("[--flag][-x][a b][][it's $HOME][one][two three]\n", RunBootstrap(dir, dir["a.xar"], "one", "two three"));
        // The header names the entrypoint and the arguments, so a launcher can exec it directly.
        var header = XarHeader.ReadFromFile(dir["a.xar"]);
        Assert.Equal("bin/app", header["XAR_EXEC"]);
        Assert.Equal("--flag -x a%20b '' it%27s%20%24HOME", header["XAR_EXEC_ARGS"]);
        // Without --exec-arg: XAR_EXEC alone.
        Assert.Equal(0, Pack(dir["src"], "-o", dir["b.xar"], "--exec", "bin/app"));
        Assert.Equal("bin/app", XarHeader.ReadFromFile(dir["b.xar"])["XAR_EXEC"]);
        Assert.Null(XarHeader.ReadFromFile(dir["b.xar"])["XAR_EXEC_ARGS"]);
        Assert.Equal("[one]\n", RunBootstrap(dir, dir["b.xar"], "one"));
    }

    /// <summary>Bytes that are not UTF-8 reach the entrypoint as given (read back from the raw command line).</summary>
    [Fact]
    public void ExecArgsKeepBytesThatAreNotUtf8()
    {
        using var dir = Tree();
        File.WriteAllText(dir["src/bin/app"], "#!/bin/sh\nfor a in \"$@\"; do printf '%s' \"$a\" | od -An -tx1 | tr -d ' \\n'; echo; done\n");
        TestEnv.Run(new RunOptions("bash", ["-c", "\"$0\" pack src -o a.xar --quiet --exec bin/app --exec-arg \"$(printf 'a\\377b')\" --exec-arg=\"$(printf '\\376')\"", XarBinary.Path])
        {
            WorkingDirectory = dir.Path,
        }).EnsureSuccess("xar pack --exec-arg with bytes that are not UTF-8");
        Assert.Equal("61ff62\nfe\n", RunBootstrap(dir, dir["a.xar"]));
        Assert.Equal("a%FFb %FE", XarHeader.ReadFromFile(dir["a.xar"])["XAR_EXEC_ARGS"]);
    }

    /// <summary>
    /// SOURCE_DIR, OUT and a sort file's paths whose names are not UTF-8 (<c>src\xfd</c>, <c>out\xfe.xar</c>) are used by
    /// their bytes: the tree is packed (an AppRun at its root found as the entrypoint, through the directory's
    /// descriptor), also through a symbolic link to it, and the file is written under its own name. Before, .NET's
    /// decoding made them U+FFFD: "no such directory", or, in a working directory so named, the sibling directory
    /// whose name holds U+FFFD was packed and written to. A missing such directory is named with the byte as \xNN.
    /// </summary>
    [Fact]
    public void PackReadsASourceAndWritesAnOutputWhoseNamesAreNotUtf8()
    {
        using var dir = new TempDir("pack-bytes");
        // All in sh: these names cannot be .NET strings.
        const string script = """
            cd "$1"; xar=$2; xarexec=$3
            mkdir -m 700 cache; export XAR_EXTRACT=1 XAR_CACHE_DIR="$1/cache" # run from a cache entry in here
            src="src$(printf '\375')"; out="out$(printf '\376').xar"
            mkdir -p "$src/d$(printf '\377')"
            printf '#!/bin/sh\necho "app ran: $1"\n' > "$src/AppRun"; chmod 755 "$src/AppRun"
            printf 'late\n' > "$src/d$(printf '\377')/late"; printf 'first\n' > "$src/first"
            printf 'd\377/late 9\n' > sort.txt
            "$xar" pack "$src" -o "$out" --sort sort.txt 2> pack.err || exit 10
            [ "$("$xarexec" "./$out" x)" = "app ran: x" ] || exit 11
            "$xar" ls "$out" > ls.out || exit 12
            "$xar" verify "$out" > /dev/null || exit 13
            ln -s "$src" link
            "$xar" pack link -o linked.xar --quiet || exit 14
            [ "$("$xarexec" ./linked.xar y)" = "app ran: y" ] || exit 15
            "$xar" pack "missing$(printf '\375')" -o never.xar 2> missing.err; echo $? > missing.status
            # Relative paths in a working directory whose name is not UTF-8, beside the one .NET's decoding would name.
            decoy="w$(printf '\357\277\275')"; mkdir -p "$decoy/src"; echo decoy > "$decoy/src/decoy"
            mkdir -p "w$(printf '\377')/src"; cd "w$(printf '\377')"; echo real > src/real
            "$xar" pack src -o here.sqfs --format squashfs --quiet || exit 16
            [ -f here.sqfs ] && [ ! -e "../$decoy/here.sqfs" ] || exit 17
            "$xar" ls here.sqfs > ../here.ls || exit 18
            """;
        var r = TestEnv.Run(new RunOptions("/bin/sh", ["-c", script, "sh", dir.Path, XarBinary.Path, LauncherBinary.Path]));
        Assert.True(r.ExitCode == 0, $"step {r.ExitCode}: {r.StandardOutput}{r.StandardError}{(File.Exists(dir["pack.err"]) ? File.ReadAllText(dir["pack.err"]) : "")}");
        // The sort file's path matched the entry (else: "sort priority for ...: no such entry"): the summary line only.
        Assert.DoesNotContain("sort priority", File.ReadAllText(dir["pack.err"]));
        Assert.Contains("squashfs-root/d\u00ff/late\n", File.ReadAllText(dir["ls.out"], System.Text.Encoding.Latin1)); // ls writes the name's bytes
        Assert.Equal("2\n", File.ReadAllText(dir["missing.status"]));
        Assert.Equal($"xar: missing\\xfd: no such directory\n", File.ReadAllText(dir["missing.err"]));
        Assert.False(File.Exists(dir["never.xar"]));
        Assert.Equal("squashfs-root\nsquashfs-root/real\n", File.ReadAllText(dir["here.ls"]));
    }

    /// <summary>
    /// The options that name files or names take them by their bytes, in every spelling (<c>--opt VALUE</c>,
    /// <c>--opt=VALUE</c>): an entrypoint <c>run\xfd</c> (--exec, found by the bootstrap script; the header's
    /// informational XAR_EXEC is left out, the header being UTF-8 text), an --exclude pattern <c>skip\xfe</c>, and
    /// --output, --desktop-file and --runtime in a directory <c>d\xff</c>. Before, .NET's decoding made each U+FFFD:
    /// "no such file", or a pattern that matched nothing.
    /// </summary>
    [Fact]
    public void OptionsThatNameFilesOrNamesUseTheirBytes()
    {
        using var dir = new TempDir("pack-option-bytes");
        const string script = """
            cd "$1"; xar=$2; xarexec=$3
            mkdir -m 700 cache; export XAR_EXTRACT=1 XAR_CACHE_DIR="$1/cache"
            run="run$(printf '\375')"; d="d$(printf '\377')"
            mkdir -p src "$d"
            printf '#!/bin/sh\necho "ran: $1"\n' > "src/$run"; chmod 755 "src/$run"
            echo x > "src/skip$(printf '\376')"; echo y > src/keep
            printf '[Desktop Entry]\nType=Application\nName=T\nExec=run\n' > "$d/org.example.T.desktop"
            cp "$xarexec" "$d/runtime"
            "$xar" pack src --output="$d/out" --exec="$run" --exclude "skip$(printf '\376')" --desktop-file "$d/org.example.T.desktop" --self-contained --runtime="$d/runtime" --quiet 2> pack.err || exit 10
            [ "$("./$d/out" a)" = "ran: a" ] || exit 11
            "$xar" ls "$d/out" > ls.out || exit 12
            "$xar" info "$d/out" > info.out || exit 13
            """;
        var r = TestEnv.Run(new RunOptions("/bin/sh", ["-c", script, "sh", dir.Path, XarBinary.Path, LauncherBinary.Path]));
        Assert.True(r.ExitCode == 0, $"step {r.ExitCode}: {r.StandardOutput}{r.StandardError}{(File.Exists(dir["pack.err"]) ? File.ReadAllText(dir["pack.err"]) : "")}");
        string listing = File.ReadAllText(dir["ls.out"], System.Text.Encoding.Latin1); // ls writes the names' bytes
        Assert.Contains("squashfs-root/run\u00fd\n", listing);
        Assert.Contains("squashfs-root/keep\n", listing);
        Assert.Contains("squashfs-root/org.example.T.desktop\n", listing);
        Assert.DoesNotContain("skip", listing);
        Assert.DoesNotContain("XAR_EXEC=", File.ReadAllText(dir["info.out"]));
    }

    /// <summary>
    /// OUT where no file can be made (sysfs refuses even root): one line naming OUT once. It read
    /// "xar: OUT: OUT: cannot create ..." (the message names the file itself), and before that named the temporary file.
    /// </summary>
    [Fact]
    public void OutputWhereNoFileCanBeCreatedIsNamedOnce()
    {
        using var dir = Tree();
        var r = XarCli.Run("pack", dir["src"], "-o", "/sys/xar-test-out.xar", "-q");
        Assert.Equal(1, r.ExitCode);
        Assert.Equal("xar: /sys/xar-test-out.xar: cannot create a temporary file beside it: Permission denied\n", r.StandardError);
    }

    [Fact]
    public void ExecArgWithoutExecIsRefused()
    {
        using var dir = Tree();
        var (status, error) = PackCapturingErrors(dir["src"], "-o", dir["a.xar"], "--exec-arg", "x");
        Assert.Equal(ExitCodes.BadInput, status);
        Assert.Contains("--exec-arg needs --exec", error);
        Assert.False(File.Exists(dir["a.xar"]));
    }

    [Fact]
    public void ExecArgsTooLongForTheHeaderAreRefusedBeforePacking()
    {
        using var dir = Tree();
        var (status, error) = PackCapturingErrors(dir["src"], "-o", dir["a.xar"], "--exec", "bin/app", "--exec-arg", new string('x', 4000), "--exec-arg", "y");
        Assert.Equal(ExitCodes.BadInput, status);
        Assert.Single(error.Split('\n', StringSplitOptions.RemoveEmptyEntries));
        Assert.Contains("4096", error);
        Assert.Contains("XAR_EXEC_ARGS", error);
        Assert.False(File.Exists(dir["a.xar"]));
        Assert.Empty(Leftovers(dir));
    }

    [Fact]
    public void PackWithoutExecWarnsThatTheFileCannotRun()
    {
        using var dir = Tree();
        var (status, error) = PackCapturingErrors(dir["src"], "-o", dir["a.xar"]);
        Assert.Equal(0, status);
        Assert.Contains("xar: warning: ", error);
        Assert.Contains("--exec", error);
        Assert.Contains("mount", error);
        // --quiet silences it; a bare image is never run, so it gets none.
        Assert.Equal((0, ""), PackCapturingErrors(dir["src"], "-o", dir["b.xar"], "--quiet"));
        Assert.DoesNotContain("warning", PackCapturingErrors(dir["src"], "-o", dir["c.sqfs"], "--format", "squashfs").Error);
        Assert.DoesNotContain("warning", PackCapturingErrors(dir["src"], "-o", dir["d.xar"], "--exec", "bin/app").Error);
    }

    [Fact]
    public void ExecThatIsADirectorySaysSo()
    {
        using var dir = Tree();
        var (status, error) = PackCapturingErrors(dir["src"], "-o", dir["a.xar"], "--exec", "bin", "--quiet");
        Assert.Equal(ExitCodes.BadInput, status);
        Assert.Contains("is a directory", error);
        Assert.DoesNotContain("no such", error);
    }

    [Fact]
    public void SourceThatIsAFileIsNotCalledMissing()
    {
        using var dir = Tree();
        foreach (string format in new[] { "xar", "squashfs" })
        {
            var (status, error) = PackCapturingErrors(dir["src/data.txt"], "-o", dir["a"], "--format", format, "--quiet");
            Assert.Equal(ExitCodes.BadInput, status);
            Assert.Contains("not a directory", error);
            Assert.DoesNotContain("no such", error);
        }
    }

    /// <summary>--exec src/bin/app from the directory above SOURCE_DIR: the path is inside SOURCE_DIR.</summary>
    [Fact]
    public void ExecGivenFromTheCurrentDirectoryGetsAHint()
    {
        using var dir = Tree();
        var r = TestEnv.Run(new RunOptions(XarBinary.Path, ["pack", "src", "-o", "a.xar", "--exec", "src/bin/app", "--quiet"]) { WorkingDirectory = dir.Path });
        Assert.Equal(ExitCodes.BadInput, r.ExitCode);
        Assert.Single(r.StandardError.Split('\n', StringSplitOptions.RemoveEmptyEntries));
        Assert.Contains("relative to SOURCE_DIR", r.StandardError);
        Assert.Contains("--exec bin/app", r.StandardError);
        // Outside SOURCE_DIR altogether: said so.
        File.WriteAllText(dir["elsewhere"], "#!/bin/sh\n");
        File.SetUnixFileMode(dir["elsewhere"], (UnixFileMode)0x1ED);
        r = TestEnv.Run(new RunOptions(XarBinary.Path, ["pack", "src", "-o", "a.xar", "--exec", "elsewhere", "--quiet"]) { WorkingDirectory = dir.Path });
        Assert.Equal(ExitCodes.BadInput, r.ExitCode);
        Assert.Contains("relative to SOURCE_DIR", r.StandardError);
        Assert.Contains("not inside it", r.StandardError);
        Assert.False(File.Exists(dir["a.xar"]));
    }

    [SkippableFact]
    public void SelfContainedSummaryGivesTheRuntimeApartAndTheXarsRatio()
    {
        using var dir = Tree();
        string app = dir["app"];
        var r = TestEnv.Run(XarBinary.Path, "pack", dir["src"], "-o", app, "--exec", "bin/app", "--self-contained", "--runtime", LauncherBinary.Path).EnsureSuccess("xar pack --self-contained");
        string line = Assert.Single(r.StandardError.Split('\n', StringSplitOptions.RemoveEmptyEntries));
        var m = System.Text.RegularExpressions.Regex.Match(line,
            @"^xar: packed 3 files \((\d+) B\) into .*app: [\d.]+ MiB, the runtime [\d.]+ MiB and the XAR [\d.]+ KiB \(([\d.]+)% of the input\) in \d+\.\d s$");
        Assert.True(m.Success, line);
        long xarBytes = new FileInfo(app).Length - ElfExtent.XarStart(XarFile.ReadRuntime(app).Length);
        double input = double.Parse(m.Groups[1].Value, System.Globalization.CultureInfo.InvariantCulture);
        Assert.Equal((100.0 * xarBytes / input).ToString("0.0", System.Globalization.CultureInfo.InvariantCulture), m.Groups[2].Value);
    }

    [Fact]
    public void PackOffATerminalEndsWithOneSummaryLine()
    {
        using var dir = Tree();
        var r = TestEnv.Run(XarBinary.Path, "pack", dir["src"], "-o", dir["a.xar"], "--exec", "bin/app");
        r.EnsureSuccess("xar pack");
        var lines = r.StandardError.Split('\n', StringSplitOptions.RemoveEmptyEntries);
        string line = Assert.Single(lines);
        // Three files: bin/app, data.txt and the bootstrap script.
        Assert.Matches(@"^xar: packed 3 files \(\d+ B\) into .*a\.xar: [\d.]+ KiB \([\d.]+% of the input\) in \d+\.\d s$", line);
        Assert.Empty(r.StandardOutput);
        r = TestEnv.Run(XarBinary.Path, "pack", dir["src"], "-o", dir["b.xar"], "--exec", "bin/app", "--quiet").EnsureSuccess("xar pack --quiet");
        Assert.Empty(r.StandardError);
    }

    /// <summary>Attack 6: `-o SRC/run.sh --exec run.sh` used to replace the entrypoint with the archive.</summary>
    [Fact]
    public void OutputThatNamesAnExistingFileInsideTheSourceIsRefused()
    {
        using var dir = Tree();
        string before = File.ReadAllText(dir["src/bin/app"]);
        foreach (string format in new[] { "xar", "squashfs" })
        {
            var (status, error) = PackCapturingErrors(dir["src"], "-o", dir["src/bin/app"], "--format", format, "--quiet");
            Assert.Equal(ExitCodes.BadInput, status);
            Assert.Single(error.Split('\n', StringSplitOptions.RemoveEmptyEntries));
            Assert.Contains("inside SOURCE_DIR", error);
        }
        // Also through another spelling of the same directory.
        Assert.Equal(ExitCodes.BadInput, PackCapturingErrors(dir["src/bin/../."], "-o", dir["src/./bin/app"], "--exec", "bin/app", "--quiet").Status);
        Assert.Equal(before, File.ReadAllText(dir["src/bin/app"]));
        Assert.DoesNotContain(Directory.GetFiles(dir["src/bin"]), f => f.Contains(".tmp"));
    }

    /// <summary>Attack 7: `xar pack -o - | true` exited 0; a closed pipe is a failure (SIGPIPE), with no message and no temp file.</summary>
    [Fact]
    public void ClosedPipeIsAFailureAndLeavesNoTempFile()
    {
        using var dir = Tree();
        Directory.CreateDirectory(dir["tmp"]);
        var r = TestEnv.Run(new RunOptions("bash", ["-c", "\"$0\" pack src -o - --exec bin/app --quiet | true; echo \"${PIPESTATUS[0]}\"", XarBinary.Path])
        {
            WorkingDirectory = dir.Path,
            Environment = new Dictionary<string, string?> { ["TMPDIR"] = dir["tmp"] },
        });
        Assert.Equal("141\n", r.StandardOutput);
        Assert.Equal("", r.StandardError);
        Assert.Empty(Directory.GetFileSystemEntries(dir["tmp"]));
    }

    /// <summary>
    /// The README claimed images always come out smaller than mksquashfs's (httpie's tree came out 0.17%
    /// larger): it states the measured range, which must be the newest pack table's in bench/RESULTS.md.
    /// </summary>
    [Fact]
    public void ReadmeStatesImageSizesAsMeasured()
    {
        string readme = File.ReadAllText(Path.Combine(TestEnv.RepoRoot, "README.md")).ReplaceLineEndings(" ");
        Assert.DoesNotContain("Images come out smaller than mksquashfs's", readme);
        var claim = System.Text.RegularExpressions.Regex.Match(readme, @"size ratios (\d\.\d+)-(\d\.\d+) in `bench/RESULTS\.md`");
        Assert.True(claim.Success, "the README quotes the measured size ratios");

        // The newest pack table: the first one under "## pack"; its "size ratio" column.
        var lines = File.ReadAllLines(Path.Combine(TestEnv.RepoRoot, "bench", "RESULTS.md"));
        int section = Array.IndexOf(lines, "## pack");
        int head = Array.FindIndex(lines, section, l => l.StartsWith("| corpus |", StringComparison.Ordinal));
        int column = lines[head].Split('|').Select(c => c.Trim()).ToList().IndexOf("size ratio");
        var ratios = lines.Skip(head + 2).TakeWhile(l => l.StartsWith('|'))
            .Select(l => decimal.Parse(l.Split('|')[column].Trim(), System.Globalization.CultureInfo.InvariantCulture)).ToList();
        Assert.True(ratios.Count >= 12);
        Assert.Equal(ratios.Min().ToString(System.Globalization.CultureInfo.InvariantCulture), claim.Groups[1].Value);
        Assert.Equal(ratios.Max().ToString(System.Globalization.CultureInfo.InvariantCulture), claim.Groups[2].Value);
    }
}
