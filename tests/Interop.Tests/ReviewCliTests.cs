using Xar.Tests;

namespace Xar.Interop.Tests;

/// <summary>Review findings on the `xar` command line contract: one line, right exit status, no stack trace.</summary>
public class ReviewCliTests
{
    private static string SmallImage(TempDir tmp)
    {
        string tree = tmp["tree"];
        Directory.CreateDirectory(Path.Combine(tree, "d"));
        File.WriteAllText(Path.Combine(tree, "d", "f"), "f\n");
        File.WriteAllText(Path.Combine(tree, "t"), "t\n");
        string image = tmp["small.sqfs"];
        ReaderCli.MkSquashFs(tree, image);
        return image;
    }

    private static void AssertOneLineError(ProcessResult r, int exitCode)
    {
        Assert.Equal(exitCode, r.ExitCode);
        Assert.DoesNotContain("   at ", r.StandardError);
        Assert.DoesNotContain("Unhandled exception", r.StandardError);
        var lines = r.StandardError.Split('\n', StringSplitOptions.RemoveEmptyEntries);
        Assert.Single(lines);
        Assert.StartsWith("xar: ", lines[0]);
    }

    /// <summary>A PATH with ".." that resolves inside the image used to escape as an unhandled ArgumentException.</summary>
    [SkippableTheory]
    [InlineData("/d/../t")]
    [InlineData("d/./f")]
    public void ExtractPathWithDotComponentsIsAUsageError(string path)
    {
        using var tmp = new TempDir("review-cli");
        string image = SmallImage(tmp);
        var r = TestEnv.Run(new RunOptions(ReaderCli.XarPath, ["extract", image, path, "-o", tmp["out"]]));
        AssertOneLineError(r, 2);
        Assert.False(Directory.Exists(tmp["out"]));
    }

    /// <summary>Parse errors used to print one line per error, and a value list over several lines.</summary>
    [SkippableTheory]
    [InlineData("pack", "SRC", "-o", "OUT", "-c", "lzo")]
    [InlineData("info", "IMG", "extra1", "extra2")]
    [InlineData("ls", "IMG", "--bogus", "-x")]
    public void ParseErrorsAreOneLine(params string[] args)
    {
        using var tmp = new TempDir("review-cli");
        string image = SmallImage(tmp);
        var resolved = args.Select(a => a switch { "SRC" => tmp["tree"], "OUT" => tmp["out.xar"], "IMG" => image, _ => a }).ToArray();
        var r = TestEnv.Run(new RunOptions(ReaderCli.XarPath, resolved));
        AssertOneLineError(r, 2);
        Assert.False(File.Exists(tmp["out.xar"]));
    }

    [SkippableFact]
    public void UnknownCommandIsNamed()
    {
        var r = TestEnv.Run(new RunOptions(ReaderCli.XarPath, ["bogus"]));
        AssertOneLineError(r, 2);
        Assert.Contains("bogus", r.StandardError);
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
        using var tmp = new TempDir("review-hl");
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
        ReaderCli.MkSquashFs(tree, image);
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
        using var tmp = new TempDir("review-cli");
        string dir = tmp["somedir"];
        Directory.CreateDirectory(dir);
        string[] args = command switch
        {
            "cat" => [command, dir, "x"],
            "extract" => [command, dir, "-o", tmp["out"]],
            _ => [command, dir],
        };
        var r = TestEnv.Run(new RunOptions(ReaderCli.XarPath, args) { Environment = new Dictionary<string, string?> { ["XAR_MOUNT_ROOT"] = tmp["nomount"] } });
        AssertOneLineError(r, 2);
        Assert.Contains("directory", r.StandardError);
        Assert.False(Path.Exists(tmp["out"]));
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
        using var tmp = new TempDir("review-cli");
        string tree = tmp["tree"];
        Directory.CreateDirectory(Path.Combine(tree, "d"));
        File.WriteAllText(Path.Combine(tree, "d", "f"), "f\n");
        string link = tmp["link"];
        File.CreateSymbolicLink(link, tree);
        string image = tmp["out.sqfs"];
        var r = ReaderCli.Run("pack", link + suffix, "-o", image, "--format", "squashfs", "--quiet");
        Assert.True(r.ExitCode == 0, r.StandardError);
        TestEnv.AssertTreesEqual(tree, image, ReaderCli.PeerVia[0].Replace("-a", "-b"), ReaderCli.PeerVia[1]);
    }

    /// <summary>`--exec run --exclude run` (or excluding a parent of it) wrote, with exit 0, a XAR that cannot start.</summary>
    [SkippableTheory]
    [InlineData("run", "run")]
    [InlineData("bin/run", "bin")]
    [InlineData("bin/run", "r*")]
    public void ExecTargetLeftOutByExcludeIsBadUsage(string exec, string exclude)
    {
        using var tmp = new TempDir("review-cli");
        string tree = tmp["tree"];
        string script = Path.Combine(tree, exec);
        Directory.CreateDirectory(Path.GetDirectoryName(script)!);
        File.WriteAllText(script, "#!/bin/sh\necho hi\n");
        TestEnv.Run("chmod", "0755", script).EnsureSuccess("chmod");
        var r = ReaderCli.Run("pack", tree, "-o", tmp["out.xar"], "--exec", exec, "--exclude", exclude, "--quiet");
        AssertOneLineError(r, 2);
        Assert.Contains("--exclude", r.StandardError);
        Assert.False(File.Exists(tmp["out.xar"]));
    }
}
