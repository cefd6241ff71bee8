using Xar.Tests;

namespace Xar.Interop.Tests;

/// <summary>Review findings on the runtime (mount and cache directories) reached through `xar`.</summary>
[System.Runtime.Versioning.SupportedOSPlatform("linux")]
public class ReviewLauncherTests
{
    /// <summary>
    /// `xar mount` does not set the umask as xarexec does: under umask 077 it created uid-N as 0700,
    /// then refused its own directory ("has mode 0700, expected 0755"), and every later xarexec run
    /// failed on it too. Directories we create get their exact mode whatever the umask.
    /// </summary>
    [SkippableFact]
    public void MountUnderRestrictiveUmaskCreatesUsableDirectories()
    {
        TestEnv.RequireFuse();
        using var tmp = new TempDir("review-umask");
        string tree = tmp["tree"];
        Directory.CreateDirectory(tree);
        File.WriteAllText(Path.Combine(tree, "hello"), "hello\n");
        string xar = tmp["app.xar"];
        ReaderCli.Run("pack", tree, "-o", xar, "--quiet").EnsureSuccess("xar pack");
        string root = tmp["mnt"];
        Directory.CreateDirectory(root);
        File.SetUnixFileMode(root, (UnixFileMode)Convert.ToInt32("1777", 8));
        var env = new Dictionary<string, string?> { ["XAR_MOUNT_ROOT"] = root };
        string q(string s) => "'" + s.Replace("'", "'\\''") + "'";
        var r = TestEnv.Run(new RunOptions("/bin/sh", ["-c", $"umask 077; exec {q(ReaderCli.XarPath)} mount {q(xar)}"]) { Environment = env });
        try
        {
            Assert.True(r.ExitCode == 0, r.StandardError);
            string mount = r.StandardOutput.Trim();
            Assert.Equal("hello\n", File.ReadAllText(Path.Combine(mount, "hello")));
            Assert.Equal(Convert.ToInt32("755", 8), (int)File.GetUnixFileMode(Path.GetDirectoryName(mount)!));
        }
        finally
        {
            TestEnv.Run(new RunOptions(ReaderCli.XarPath, ["unmount", xar]) { Environment = env });
        }
    }

    /// <summary>
    /// `xar gc` deleted cache entries through .NET's string paths: a file name that is not UTF-8
    /// (any byte but '/' and NUL is a valid name in an image) could not be deleted, gc failed with
    /// "Directory not empty" (exit 1) and left the renamed entry behind for good.
    /// </summary>
    [SkippableFact]
    public void GcDeletesCacheEntryHoldingNonUtf8Names()
    {
        using var tmp = new TempDir("review-gc");
        string cache = tmp["cache"];
        const string uuid = "0123456789abcdef";
        string entry = Path.Combine(cache, uuid);
        Directory.CreateDirectory(Path.Combine(entry, "sub"));
        TestEnv.Run("chmod", "0700", cache).EnsureSuccess("chmod");
        TestEnv.Run("/bin/sh", "-c", "touch \"$1/$(printf 'bad\\377\\376name')\" \"$1/sub/$(printf '\\351t\\351')\"", "sh", entry).EnsureSuccess("touch");
        Assert.Equal(2, Directory.GetFileSystemEntries(entry).Length);
        string lockFile = Path.Combine(cache, "lockfile." + uuid);
        File.WriteAllBytes(lockFile, []);
        TestEnv.Run("chmod", "0600", lockFile).EnsureSuccess("chmod");
        TestEnv.Run("touch", "-d", "@1000000000", lockFile).EnsureSuccess("touch");
        string mountRoot = tmp["mnt"];
        Directory.CreateDirectory(mountRoot);
        TestEnv.Run("chmod", "1777", mountRoot).EnsureSuccess("chmod");
        var env = new Dictionary<string, string?>
        {
            ["XAR_CACHE_DIR"] = cache, ["XAR_MOUNT_ROOT"] = mountRoot,
            ["HOME"] = tmp.Path, ["XDG_CACHE_HOME"] = tmp.Path, ["TMPDIR"] = tmp.Path,
        };
        var r = TestEnv.Run(new RunOptions(ReaderCli.XarPath, ["gc", "--older-than", "3650d", "--idle", "3650d"]) { Environment = env });
        Assert.True(r.ExitCode == 0, r.StandardError);
        Assert.Empty(Directory.GetFileSystemEntries(cache));
    }

    /// <summary>The published xarexec: $XAR_BIN (make test), else one already published in this checkout.</summary>
    private static string? Launcher()
    {
        string? bin = Environment.GetEnvironmentVariable("XAR_BIN");
        foreach (string? dir in new[] { bin, Path.Combine(TestEnv.RepoRoot, "out", "bin"), Path.Combine(TestEnv.RepoRoot, "out", "test-xarexec") })
            if (!string.IsNullOrEmpty(dir) && File.Exists(Path.Combine(dir, "xarexec")))
                return Path.Combine(dir, "xarexec");
        return null;
    }

    /// <summary>
    /// Run with stdout closed (`app.xar >&-`), the launcher's cache lock file took descriptor 1 and
    /// was kept open across exec: the program's output went into the lock file. Descriptors the
    /// launcher hands to the program must never land on 0, 1 or 2.
    /// </summary>
    [SkippableFact]
    public void ClosedStandardOutputDoesNotReceiveTheLockFile()
    {
        string? xarexec = Launcher();
        TestEnv.Require(xarexec is not null, "needs a published xarexec (make publish)");
        using var tmp = new TempDir("review-fd");
        string tree = tmp["tree"];
        Directory.CreateDirectory(tree);
        File.WriteAllText(Path.Combine(tree, "run"), "#!/bin/sh\necho done >\"$OUT\"\necho output-of-the-app || true\n");
        TestEnv.Run("chmod", "0755", Path.Combine(tree, "run")).EnsureSuccess("chmod");
        string xar = tmp["app.xar"];
        ReaderCli.Run("pack", tree, "-o", xar, "--exec", "run", "--quiet").EnsureSuccess("xar pack");
        string cache = tmp["cache"];
        var env = new Dictionary<string, string?> { ["XAR_EXTRACT"] = "1", ["XAR_CACHE_DIR"] = cache, ["OUT"] = tmp["marker"] };
        for (int run = 0; run < 2; run++) // first run extracts, the second reuses the entry
        {
            File.Delete(tmp["marker"]);
            var r = TestEnv.Run(new RunOptions("/bin/sh", ["-c", "exec \"$0\" \"$1\" >&-", xarexec!, xar]) { Environment = env });
            Assert.True(File.Exists(tmp["marker"]), $"run {run}: the program did not run: {r.StandardError}");
            var lockFile = Directory.GetFiles(cache, "lockfile.*").Single();
            // It holds only the XAR file it was extracted from (for gc), never the program's output.
            Assert.Equal(xar + "\n", File.ReadAllText(lockFile));
        }
    }
}
