using Xar.Tests;

namespace Xar.Packer.Tests;

public class ExtractCommandTests
{
    [SkippableFact]
    public void ExtractsAllOrSomePaths()
    {
        using var tmp = new TempDir("extract");
        var (tree, image) = XarCli.Make(tmp);
        XarCli.Run("extract", image, "-o", tmp["all"]).EnsureSuccess("extract");
        TestEnv.AssertTreesEqual(tree, tmp["all"]);
        XarCli.Run("extract", image, "-o", tmp["some"], "-j", "1", "sub").EnsureSuccess("extract sub");
        Assert.True(File.Exists(Path.Combine(tmp["some"], "sub", "data.bin")));
        Assert.False(File.Exists(Path.Combine(tmp["some"], "hello.txt")));
        // Default destination: squashfs-root in the current directory.
        var r = TestEnv.Run(new RunOptions(XarBinary.Path, ["extract", image]) { WorkingDirectory = tmp.Path });
        r.EnsureSuccess("extract to squashfs-root");
        Assert.True(File.Exists(Path.Combine(tmp["squashfs-root"], "hello.txt")));
    }

    /// <summary>
    /// Names that are not UTF-8 given to extract (-o DIR, PATH), cat and ls are used by their bytes, as is a working
    /// directory so named: before, .NET's decoding (U+FFFD) made `extract -o e\xfd` create another name, a PATH
    /// "no such path", and a relative -o in such a working directory wrote into the sibling whose name holds U+FFFD.
    /// </summary>
    [Fact]
    public void NamesThatAreNotUtf8AreUsedByTheirBytes()
    {
        using var tmp = new TempDir("extract-bytes");
        const string script = """
            cd "$1"; xar=$2
            n="n$(printf '\376')"; mkdir -p "src/$n"; printf 'inside\n' > "src/$n/f"; printf 'top\n' > src/top
            "$xar" pack src -o a.sqfs --format squashfs -q || exit 10
            e="e$(printf '\375')"
            "$xar" extract a.sqfs -o "$e" "$n" -q || exit 11
            [ "$(cat "$e/$n/f")" = inside ] && [ ! -e "$e/top" ] || exit 12
            [ "$("$xar" cat a.sqfs "$n/f")" = inside ] || exit 13
            [ "$("$xar" ls a.sqfs "$n" | tail -1)" = "squashfs-root/$n/f" ] || exit 14
            decoy="w$(printf '\357\277\275')"; mkdir "$decoy" "w$(printf '\377')"; cd "w$(printf '\377')"
            "$xar" extract ../a.sqfs -o x -q || exit 15
            [ -f x/top ] && [ ! -e "../$decoy/x" ] || exit 16
            "$xar" extract ../a.sqfs -o "$(printf 'gone\375')" "$(printf 'missing\374')" 2> ../missing.err; echo $? > ../missing.status
            """;
        var r = TestEnv.Run(new RunOptions("/bin/sh", ["-c", script, "sh", tmp.Path, XarBinary.Path]));
        Assert.True(r.ExitCode == 0, $"step {r.ExitCode}: {r.StandardOutput}{r.StandardError}");
        Assert.Equal("2\n", File.ReadAllText(tmp["missing.status"]));
        Assert.Equal("xar: ../a.sqfs: missing\\xfc: no such path in the image (symlinks are not followed)\n", File.ReadAllText(tmp["missing.err"]));
    }

    /// <summary>`-j 100000` ran out of threads: an unhandled exception and exit 134. It is bounded as pack's is.</summary>
    [Fact]
    public void JobsOutOfRangeIsBadUsage()
    {
        using var tmp = new TempDir("extract-jobs");
        Directory.CreateDirectory(tmp["src"]);
        XarCli.Run("pack", tmp["src"], "-o", tmp["a.sqfs"], "--format", "squashfs", "-q").EnsureSuccess("xar pack");
        XarCli.AssertBadInput(XarCli.Run("extract", tmp["a.sqfs"], "-o", tmp["out"], "-j", "100000"), "--jobs must be 0..1024");
        Assert.False(Path.Exists(tmp["out"]));
    }

    [SkippableFact]
    public void RefusesExistingDestinationAndMissingPaths()
    {
        using var tmp = new TempDir("extract-bad");
        var (_, image) = XarCli.Make(tmp);
        Directory.CreateDirectory(tmp["exists"]);
        var r = XarCli.Run("extract", image, "-o", tmp["exists"]);
        Assert.Equal(2, r.ExitCode); // bad usage, per DESIGN's exit statuses
        Assert.Contains("already exists", r.StandardError);
        File.CreateSymbolicLink(tmp["dangling"], tmp["nowhere"]);
        var dangling = XarCli.Run("extract", image, "-o", tmp["dangling"]);
        Assert.Equal(2, dangling.ExitCode);
        Assert.False(Path.Exists(tmp["nowhere"]));
        XarCli.AssertBadInput(XarCli.Run("extract", image, "-o", tmp["x"], "nothing/here"), "no such path");
        Assert.False(Directory.Exists(tmp["x"]));
    }

    [SkippableFact]
    public void CorruptImageLeavesNothingBehind()
    {
        using var tmp = new TempDir("extract-corrupt");
        var (_, image) = XarCli.Make(tmp, "-noI", "-noD");
        byte[] bytes = File.ReadAllBytes(image);
        // Cut the image inside its data: the superblock promises more than there is.
        File.WriteAllBytes(tmp["cut.sqfs"], bytes[..(bytes.Length / 2)]);
        string outDir = tmp["outdir"];
        Directory.CreateDirectory(outDir);
        XarCli.AssertBadInput(XarCli.Run("extract", tmp["cut.sqfs"], "-o", Path.Combine(outDir, "x")), "truncated");
        Assert.Empty(Directory.GetFileSystemEntries(outDir));
    }

    private static string SmallImage(TempDir tmp)
    {
        string tree = tmp["tree"];
        Directory.CreateDirectory(Path.Combine(tree, "d"));
        File.WriteAllText(Path.Combine(tree, "d", "f"), "f\n");
        File.WriteAllText(Path.Combine(tree, "t"), "t\n");
        string image = tmp["small.sqfs"];
        XarCli.MkSquashFs(tree, image);
        return image;
    }

    /// <summary>A PATH with ".." that resolves inside the image used to escape as an unhandled ArgumentException.</summary>
    [SkippableTheory]
    [InlineData("/d/../t")]
    [InlineData("d/./f")]
    public void ExtractPathWithDotComponentsIsAUsageError(string path)
    {
        using var tmp = new TempDir("extract-dots");
        string image = SmallImage(tmp);
        var r = TestEnv.Run(new RunOptions(XarBinary.Path, ["extract", image, path, "-o", tmp["out"]]));
        XarCli.AssertBadInput(r);
        Assert.False(Directory.Exists(tmp["out"]));
    }

    /// <summary>
    /// As a user without privileges (root drops to nobody for this test): setuid/setgid bits are
    /// dropped, the sticky bit kept, device nodes skipped with a warning, and the rest extracted.
    /// </summary>
    [SkippableFact]
    public void WithoutRootPrivilegedBitsAndDevicesAreSkipped()
    {
        TestEnv.RequireRoot();
        TestEnv.RequireTool("setpriv");
        using var tmp = new TempDir("extract-nonroot");
        string tree = tmp["tree"];
        Directory.CreateDirectory(Path.Combine(tree, "sticky"));
        File.WriteAllText(Path.Combine(tree, "suid"), "x");
        TestEnv.Run("chmod", "4755", Path.Combine(tree, "suid")).EnsureSuccess("chmod");
        TestEnv.Run("chmod", "1777", Path.Combine(tree, "sticky")).EnsureSuccess("chmod");
        TestEnv.Run("mknod", Path.Combine(tree, "null"), "c", "1", "3").EnsureSuccess("mknod");
        string image = tmp["image.sqfs"];
        TestEnv.Run(TestEnv.FindTool("mksquashfs")!, tree, image, "-noappend", "-no-progress", "-quiet").EnsureSuccess("mksquashfs");
        string work = tmp["work"];
        Directory.CreateDirectory(work);
        TestEnv.Run("chmod", "0777", work, tmp.Path).EnsureSuccess("chmod");
        string xar = TestEnv.PublishedProgramForAnyUser("xar", tmp["bin"]); // runnable by nobody wherever the checkout lives
        TestEnv.Run("chmod", "0644", image).EnsureSuccess("chmod");
        var r = TestEnv.Run(new RunOptions(TestEnv.FindTool("setpriv")!, ["--reuid=65534", "--regid=65534", "--clear-groups", xar, "extract", image, "-o", Path.Combine(work, "out")])
        {
            Environment = new Dictionary<string, string?> { ["HOME"] = work, ["DOTNET_CLI_HOME"] = work },
        });
        r.EnsureSuccess("xar extract as nobody");
        Assert.Contains("device node not created", r.StandardError);
        string output = Path.Combine(work, "out");
        Assert.False(File.Exists(Path.Combine(output, "null")));
        Assert.Equal("755", Stat("%a", Path.Combine(output, "suid")));
        Assert.Equal("1777", Stat("%a", Path.Combine(output, "sticky")));
        Assert.Equal("65534", Stat("%u", Path.Combine(output, "suid")));
    }

    /// <summary>
    /// As a normal user (the launcher's extraction path), a hard link whose first path lies in a
    /// directory without search permission for its owner (mode 0600) failed: the directory got its
    /// mode before the second link was made through it ("cannot create hard link: Permission
    /// denied"). unsquashfs extracts it; so must we, with the modes restored in the end.
    /// </summary>
    [SkippableFact]
    public void HardLinkThroughDirectoryWithoutSearchPermissionExtractsAsNonRoot()
    {
        TestEnv.RequireRoot();
        TestEnv.RequireTool("setpriv");
        using var tmp = new TempDir("extract-hardlink");
        TestEnv.Run("chmod", "0755", tmp.Path).EnsureSuccess("chmod");
        // A copy nobody can run, wherever the checkout lives.
        string xar = TestEnv.PublishedProgramForAnyUser("xar", tmp["bin"]);
        string tree = tmp["tree"];
        Directory.CreateDirectory(Path.Combine(tree, "locked"));
        Directory.CreateDirectory(Path.Combine(tree, "other"));
        File.WriteAllText(Path.Combine(tree, "locked", "file"), "data\n");
        TestEnv.Run("ln", Path.Combine(tree, "locked", "file"), Path.Combine(tree, "other", "link")).EnsureSuccess("ln");
        TestEnv.Run("chmod", "0600", Path.Combine(tree, "locked")).EnsureSuccess("chmod");
        string image = tmp["hl.sqfs"];
        XarCli.MkSquashFs(tree, image);
        string outDir = tmp["out"];
        Directory.CreateDirectory(outDir);
        TestEnv.Run("chmod", "0755", tmp.Path, image).EnsureSuccess("chmod");
        TestEnv.Run("chmod", "0777", outDir).EnsureSuccess("chmod");
        string target = Path.Combine(outDir, "x");
        var r = TestEnv.Run(TestEnv.FindTool("setpriv")!, "--reuid=65534", "--regid=65534", "--clear-groups", xar, "extract", image, "-o", target);
        Assert.True(r.ExitCode == 0, r.StandardError);
        TestEnv.Run("chmod", "0700", Path.Combine(target, "locked")).EnsureSuccess("chmod");
        Assert.Equal("data\n", File.ReadAllText(Path.Combine(target, "other", "link")));
        TestEnv.Run("chmod", "0600", Path.Combine(target, "locked")).EnsureSuccess("chmod");
        TestEnv.AssertTreesEqual(tree, target, "--no-owner");
    }

    private static string Stat(string format, string path) => TestEnv.Run("stat", "-c", format, path).EnsureSuccess("stat").StandardOutput.Trim();
}
