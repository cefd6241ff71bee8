using System.Diagnostics;
using Xar.Tests;

namespace Xar.Launcher.Tests;

/// <summary>
/// The extraction cache: the one XAR_CACHE_DIR names, filled once, complete or absent, shared by concurrent
/// first runs, safe against kills and hostile places, its lock file never on a standard descriptor.
/// </summary>
public class ExtractionPathTests
{
    private static void Require() => TestEnv.RequireTool("mksquashfs");

    private static Dictionary<string, string?> Extract(LauncherSandbox s) => s.Environment(extract: true);

    /// <summary>The names in the cache directory other than the entry and its lock: must be none.</summary>
    private static string[] Leftovers(LauncherSandbox s, string uuid) =>
        Directory.Exists(s.CacheDir)
            ? Directory.GetFileSystemEntries(s.CacheDir).Select(p => Path.GetFileName(p)!).Where(n => n != uuid && n != "lockfile." + uuid).ToArray()
            : [];

    [SkippableFact]
    public void ConcurrentFirstRunsExtractOnce()
    {
        Require();
        using var s = new LauncherSandbox();
        string uuid = TestXar.NewUuid();
        string xar = TestXar.Build(s.AppTree, s["app.xar"], uuid);
        var results = new ProcessResult[16];
        Parallel.For(0, results.Length, new ParallelOptions { MaxDegreeOfParallelism = 16 },
            i => results[i] = s.Run(xar, [$"run{i}"], Extract(s)));
        for (int i = 0; i < results.Length; i++)
        {
            LaunchAssert.Succeeded(results[i]);
            Assert.StartsWith($"[run{i}]\n", results[i].StandardOutput);
            Assert.EndsWith(TestXar.Payload, results[i].StandardOutput);
        }
        Assert.Equal(1, results.Count(r => r.StandardError.Contains("extracted once")));
        Assert.Empty(Leftovers(s, uuid));
        TestEnv.AssertTreesEqual(xar, Path.Combine(s.CacheDir, uuid), "--no-owner", "--no-xattrs", "--no-write-bits");
    }

    [SkippableFact]
    public void KilledExtractionLeavesNoEntryAndTheNextRunIsCorrect()
    {
        Require();
        using var s = new LauncherSandbox();
        // Enough data that the extraction is still running when it is killed.
        string tree = s["big"];
        TestXar.WriteEchoAppTree(tree);
        var random = new Random(7);
        for (int i = 0; i < 96; i++)
        {
            var bytes = new byte[1 << 20];
            random.NextBytes(bytes);
            File.WriteAllBytes(Path.Combine(tree, "data", $"blob{i:D2}"), bytes);
        }
        string uuid = TestXar.NewUuid();
        string xar = TestXar.Build(tree, s["big.xar"], uuid, mksquashfsOptions: ["-noD"]);
        var psi = new ProcessStartInfo(LauncherBinary.Path) { UseShellExecute = false, RedirectStandardError = true, RedirectStandardOutput = true };
        psi.ArgumentList.Add(xar);
        foreach (var (k, v) in Extract(s))
        {
            if (v is null)
                psi.Environment.Remove(k);
            else
                psi.Environment[k] = v;
        }
        using (var p = Process.Start(psi)!)
        {
            // Wait until the temporary tree exists, then kill -9 mid-extraction.
            var deadline = DateTime.UtcNow.AddSeconds(60);
            while (DateTime.UtcNow < deadline && !(Directory.Exists(s.CacheDir) && Directory.GetDirectories(s.CacheDir, ".*xar-tmp-*").Length > 0))
                Thread.Yield();
            Assert.False(p.HasExited, "the extraction finished before it could be killed");
            p.Kill();
            p.WaitForExit();
        }
        Assert.False(Directory.Exists(Path.Combine(s.CacheDir, uuid)), "a killed extraction must leave no entry");
        var r = s.Run(xar, ["after"], Extract(s));
        LaunchAssert.Succeeded(r);
        Assert.StartsWith("[after]\n", r.StandardOutput);
        Assert.Empty(Leftovers(s, uuid));
        TestEnv.AssertTreesEqual(xar, Path.Combine(s.CacheDir, uuid), "--no-owner", "--no-xattrs", "--no-write-bits");
    }

    [SkippableFact]
    public void ACachedRunReadsNothingBeyondTheHeader()
    {
        Require();
        TestEnv.RequireTool("strace");
        using var s = new LauncherSandbox();
        string uuid = TestXar.NewUuid();
        string xar = TestXar.Build(s.AppTree, s["app.xar"], uuid);
        LaunchAssert.Succeeded(s.Run(xar, [], Extract(s)));
        // From the file it was extracted from, a cached run reads the header and nothing of the image.
        string trace = s["strace.log"];
        var env = Extract(s);
        var r = TestEnv.Run(new RunOptions("strace", ["-f", "-e", "trace=pread64,read", "-o", trace, LauncherBinary.Path, xar, "cached"])
        {
            Environment = env,
            WorkingDirectory = s.Work,
        });
        LaunchAssert.Succeeded(r);
        Assert.StartsWith("[cached]\n", r.StandardOutput);
        Assert.DoesNotContain("extracted", r.StandardError);
        foreach (string line in File.ReadAllLines(trace))
        {
            var m = System.Text.RegularExpressions.Regex.Match(line, @"pread64\(\d+, .*, (\d+), (\d+)\) = \d+");
            if (m.Success)
                Assert.True(long.Parse(m.Groups[2].Value) < 4096, "read beyond the header: " + line);
        }
    }

    /// <summary>The file rewritten in place after its extraction (here: its image cut off) is another image: refused, not run.</summary>
    [SkippableFact]
    public void AFileChangedInPlaceAfterExtractionIsRefused()
    {
        Require();
        using var s = new LauncherSandbox();
        string uuid = TestXar.NewUuid();
        string xar = TestXar.Build(s.AppTree, s["app.xar"], uuid);
        LaunchAssert.Succeeded(s.Run(xar, [], Extract(s)));
        using (var f = new FileStream(xar, FileMode.Open, FileAccess.Write))
            f.SetLength(4096 + 4);
        var r = s.Run(xar, ["cached"], Extract(s));
        Assert.Contains("holds another image with UUID " + uuid, LaunchAssert.OneLineFailure(r, xar));
        Assert.Equal("", r.StandardOutput);
    }

    [SkippableFact]
    public void ACorruptImageFailsCleanlyAndLeavesNothing()
    {
        Require();
        using var s = new LauncherSandbox();
        string uuid = TestXar.NewUuid();
        string xar = TestXar.Build(s.AppTree, s["app.xar"], uuid);
        var bytes = File.ReadAllBytes(xar);
        // Break the superblock's inode table start: the header stays valid.
        for (int i = 4096 + 64; i < 4096 + 72; i++)
            bytes[i] = 0xff;
        File.WriteAllBytes(xar, bytes);
        var r = s.Run(xar, [], Extract(s));
        string cause = LaunchAssert.OneLineFailure(r, xar);
        Assert.StartsWith($"cannot extract into {Path.Combine(s.CacheDir, uuid)}: ", cause);
        Assert.Empty(Leftovers(s, uuid));
        Assert.False(Directory.Exists(Path.Combine(s.CacheDir, uuid)));
    }

    [SkippableFact]
    public void AnUnwritableCacheIsOneLineAnd127()
    {
        Require();
        TestEnv.RequireRoot();
        using var s = new LauncherSandbox();
        string xar = TestXar.Build(s.AppTree, s["app.xar"]);
        Directory.CreateDirectory(s.CacheDir);
        TestEnv.Run("mount", "-t", "tmpfs", "-o", "ro,size=1m,mode=0700", "tmpfs", s.CacheDir).EnsureSuccess("mount ro tmpfs");
        try
        {
            var r = s.Run(xar, [], Extract(s));
            Assert.Contains("not writable", LaunchAssert.OneLineFailure(r, xar));
        }
        finally
        {
            TestEnv.Run("umount", s.CacheDir);
        }
    }

    [SkippableFact]
    public void ACacheOwnedBySomeoneElseIsRefused()
    {
        Require();
        TestEnv.RequireRoot();
        using var s = new LauncherSandbox();
        string xar = TestXar.Build(s.AppTree, s["app.xar"]);
        Directory.CreateDirectory(s.CacheDir);
        TestEnv.Run("chown", "4321", s.CacheDir).EnsureSuccess("chown");
        var r = s.Run(xar, [], Extract(s));
        Assert.Contains("owned by uid 4321", LaunchAssert.OneLineFailure(r, xar));
    }

    [SkippableFact]
    public void AFullDiskFailsCleanlyAndLeavesNoHalfEntry()
    {
        Require();
        TestEnv.RequireRoot();
        using var s = new LauncherSandbox();
        string tree = s["big"];
        TestXar.WriteEchoAppTree(tree);
        var random = new Random(3);
        for (int i = 0; i < 4; i++)
        {
            var bytes = new byte[1 << 20];
            random.NextBytes(bytes);
            File.WriteAllBytes(Path.Combine(tree, "data", $"blob{i}"), bytes);
        }
        string uuid = TestXar.NewUuid();
        string xar = TestXar.Build(tree, s["big.xar"], uuid);
        Directory.CreateDirectory(s.CacheDir);
        TestEnv.Run("mount", "-t", "tmpfs", "-o", "size=2m,mode=0700", "tmpfs", s.CacheDir).EnsureSuccess("mount small tmpfs");
        try
        {
            var r = s.Run(xar, [], Extract(s));
            Assert.Contains("cannot extract into", LaunchAssert.OneLineFailure(r, xar));
            Assert.Empty(Leftovers(s, uuid));
            Assert.False(Directory.Exists(Path.Combine(s.CacheDir, uuid)));
        }
        finally
        {
            TestEnv.Run("umount", s.CacheDir);
        }
    }

    [SkippableFact]
    public void ANoexecCacheIsPassedOverForTheNextPlace()
    {
        Require();
        TestEnv.RequireRoot();
        using var s = new LauncherSandbox();
        string uuid = TestXar.NewUuid();
        string xar = TestXar.Build(s.AppTree, s["app.xar"], uuid);
        Directory.CreateDirectory(s.CacheDir);
        TestEnv.Run("mount", "-t", "tmpfs", "-o", "noexec,size=16m,mode=0700", "tmpfs", s.CacheDir).EnsureSuccess("mount noexec tmpfs");
        try
        {
            var env = Extract(s);
            env["XDG_CACHE_HOME"] = s["xdg"];
            var r = s.Run(xar, ["x"], env);
            LaunchAssert.Succeeded(r);
            string entry = Path.Combine(s["xdg"], "xar", uuid);
            Assert.Contains($"XAR_MOUNT={entry}\n", r.StandardOutput);
            Assert.Empty(Directory.GetFileSystemEntries(s.CacheDir));
            // And the next run finds it there without extracting again.
            var again = s.Run(xar, ["y"], env);
            LaunchAssert.Succeeded(again);
            Assert.Equal("", again.StandardError);
        }
        finally
        {
            TestEnv.Run("umount", s.CacheDir);
        }
    }

    [SkippableFact]
    public void AnUnusableDefaultCacheFallsBackToTheTemporaryDirectory()
    {
        Require();
        TestEnv.RequireRoot();
        using var s = new LauncherSandbox();
        string uuid = TestXar.NewUuid();
        string xar = TestXar.Build(s.AppTree, s["app.xar"], uuid);
        File.WriteAllText(s["not-a-dir"], "");
        Directory.CreateDirectory(s["tmp"]);
        var env = Extract(s);
        env["XAR_CACHE_DIR"] = null;
        env["XDG_CACHE_HOME"] = s["not-a-dir"];
        env["TMPDIR"] = s["tmp"];
        var r = s.Run(xar, [], env);
        LaunchAssert.Succeeded(r);
        string entry = Path.Combine(s["tmp"], "xar-0", uuid);
        Assert.Contains($"XAR_MOUNT={entry}\n", r.StandardOutput);
        Assert.Equal("0700", Convert.ToString((int)File.GetUnixFileMode(Path.Combine(s["tmp"], "xar-0")), 8).PadLeft(4, '0'));
    }

    /// <summary>
    /// Run with stdout closed (`app.xar >&-`), the launcher's cache lock file took descriptor 1 and
    /// was kept open across exec: the program's output went into the lock file. Descriptors the
    /// launcher hands to the program must never land on 0, 1 or 2.
    /// </summary>
    [SkippableFact]
    public void ClosedStandardOutputDoesNotReceiveTheLockFile()
    {
        string xarexec = LauncherBinary.Path;
        using var tmp = new TempDir("closed-stdout");
        string tree = tmp["tree"];
        Directory.CreateDirectory(tree);
        File.WriteAllText(Path.Combine(tree, "run"), "#!/bin/sh\necho done >\"$OUT\"\necho output-of-the-app || true\n");
        TestEnv.Run("chmod", "0755", Path.Combine(tree, "run")).EnsureSuccess("chmod");
        string xar = tmp["app.xar"];
        TestEnv.Run(XarBinary.Path, "pack", tree, "-o", xar, "--exec", "run", "--quiet").EnsureSuccess("xar pack");
        string cache = tmp["cache"];
        var env = new Dictionary<string, string?> { ["XAR_EXTRACT"] = "1", ["XAR_CACHE_DIR"] = cache, ["OUT"] = tmp["marker"] };
        for (int run = 0; run < 2; run++) // first run extracts, the second reuses the entry
        {
            File.Delete(tmp["marker"]);
            var r = TestEnv.Run(new RunOptions("/bin/sh", ["-c", "exec \"$0\" \"$1\" >&-", xarexec, xar]) { Environment = env });
            Assert.True(File.Exists(tmp["marker"]), $"run {run}: the program did not run: {r.StandardError}");
            var lockFile = Directory.GetFiles(cache, "lockfile.*").Single();
            // It holds only the XAR file it was extracted from (for gc), never the program's output.
            Assert.Equal(xar, File.ReadAllLines(lockFile)[0]);
        }
    }

    [SkippableFact]
    public void TheCacheNamedByXarCacheDirIsUsedEvenWhenTheDefaultCacheHoldsTheEntry()
    {
        TestEnv.RequireTool("mksquashfs");
        using var s = new LauncherSandbox();
        string uuid = TestXar.NewUuid();
        string xar = TestXar.Build(s.AppTree, s["app.xar"], uuid);
        var env = new Dictionary<string, string?> { ["XDG_CACHE_HOME"] = s["xdg"], ["XAR_CACHE_DIR"] = null };
        LaunchAssert.Succeeded(s.Run(xar, [], env, extract: true));
        Assert.True(Directory.Exists(Path.Combine(s["xdg"], "xar", uuid)));

        string chosen = s["chosen"];
        foreach (bool viaXar in new[] { false, true })
        {
            env["XAR_CACHE_DIR"] = chosen + (viaXar ? "-run" : "");
            var r = viaXar
                ? SandboxedXar.Run(s, new Dictionary<string, string?>(s.Environment(extract: true)) { ["XDG_CACHE_HOME"] = s["xdg"], ["XAR_CACHE_DIR"] = env["XAR_CACHE_DIR"] }, "run", xar)
                : s.Run(xar, [], env, extract: true);
            Assert.Equal(0, r.ExitCode);
            Assert.Contains($"XAR_MOUNT={env["XAR_CACHE_DIR"]}/{uuid}\n", r.StandardOutput);
            Assert.True(Directory.Exists(Path.Combine(env["XAR_CACHE_DIR"]!, uuid)));
        }
    }

    [SkippableFact]
    public void ACompleteCacheEntryHasNoWriteBitsAndGcStillRemovesIt()
    {
        TestEnv.RequireTool("mksquashfs");
        using var s = new LauncherSandbox();
        string uuid = TestXar.NewUuid();
        Directory.CreateDirectory(Path.Combine(s.AppTree, "lib", "pkg"));
        File.WriteAllText(Path.Combine(s.AppTree, "lib", "pkg", "mod.py"), "x = 1\n");
        string xar = TestXar.Build(s.AppTree, s["app.xar"], uuid);
        LaunchAssert.Succeeded(s.Run(xar, [], extract: true));
        string entry = Path.Combine(s.CacheDir, uuid);
        var writable = Directory.EnumerateFileSystemEntries(entry, "*", SearchOption.AllDirectories).Append(entry)
            .Where(p => new FileInfo(p).LinkTarget is null && (File.GetUnixFileMode(p) & (UnixFileMode.UserWrite | UnixFileMode.GroupWrite | UnixFileMode.OtherWrite)) != 0)
            .ToList();
        Assert.Empty(writable);
        TestEnv.AssertTreesEqual(xar, entry, "--no-owner", "--no-xattrs", "--no-write-bits");

        File.SetLastWriteTimeUtc(Path.Combine(s.CacheDir, "lockfile." + uuid), DateTime.UtcNow.AddDays(-60));
        var gc = SandboxedXar.Run(s, s.Environment(), "gc");
        LaunchAssert.Succeeded(gc);
        Assert.Equal($"deleted: {entry}\n", gc.StandardOutput);
        Assert.False(Directory.Exists(entry));
    }
}
