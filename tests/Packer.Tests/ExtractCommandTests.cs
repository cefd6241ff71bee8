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

    private static string Stat(string format, string path) => TestEnv.Run("stat", "-c", format, path).EnsureSuccess("stat").StandardOutput.Trim();
}
