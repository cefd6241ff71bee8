using Xar.Tests;

namespace Xar.Launcher.Tests;

/// <summary>`xar run`, `xar mount`, `xar unmount` and `xar gc`.</summary>
public class XarCommandTests
{
    private static void Require()
    {
        TestEnv.RequireRoot();
        TestEnv.RequireFuse();
        TestEnv.RequireTool("mksquashfs");
    }

    private static ProcessResult Xar(LauncherSandbox s, Dictionary<string, string?>? env, params string[] args)
    {
        var environment = env ?? s.Environment();
        environment["PATH"] = Path.GetDirectoryName(LauncherBinary.Path) + ":" + Environment.GetEnvironmentVariable("PATH");
        return TestEnv.Run(new RunOptions(XarBinary.Path, args) { Environment = environment, WorkingDirectory = s.Work });
    }

    [SkippableFact]
    public void RunPassesEveryArgumentThroughIncludingOptions()
    {
        Require();
        using var s = new LauncherSandbox();
        string xar = TestXar.Build(s.AppTree, s["app.xar"]);
        var env = s.Environment();
        env["XAR_TEST_EXIT"] = "3";
        var r = Xar(s, env, "run", xar, "--help", "-o", "a b");
        Assert.Equal(3, r.ExitCode);
        Assert.StartsWith("[--help]\n[-o]\n[a b]\n", r.StandardOutput);
    }

    [SkippableFact]
    public void MountPrintsTheDirectoryAndUnmountTakesFileOrDirectory()
    {
        Require();
        using var s = new LauncherSandbox();
        string xar = TestXar.Build(s.AppTree, s["app.xar"]);
        var mounted = Xar(s, null, "mount", xar);
        LaunchAssert.Succeeded(mounted);
        string dir = mounted.StandardOutput.TrimEnd('\n');
        Assert.Equal(dir, Assert.Single(s.Mounts()));
        Assert.Equal(TestXar.Payload, File.ReadAllText(Path.Combine(dir, "data", "payload.txt")));
        // The launcher uses the same mount.
        var run = s.Run(xar, []);
        Assert.Contains("NEW_MOUNT=\n", run.StandardOutput);

        LaunchAssert.Succeeded(Xar(s, null, "unmount", xar));
        Assert.Empty(s.Mounts());
        Assert.False(Directory.Exists(dir));
        var notMounted = Xar(s, null, "unmount", xar);
        Assert.Equal(1, notMounted.ExitCode);
        Assert.Equal($"xar: {xar}: {dir} is not mounted\n", notMounted.StandardError);

        string again = Xar(s, null, "mount", xar).StandardOutput.TrimEnd('\n');
        LaunchAssert.Succeeded(Xar(s, null, "unmount", again));
        Assert.Empty(s.Mounts());
    }

    [SkippableFact]
    public void UnmountRefusesWhatIsNotAXarMount()
    {
        Require();
        using var s = new LauncherSandbox();
        var r = Xar(s, null, "unmount", s.Work);
        Assert.Equal(1, r.ExitCode);
        Assert.Contains("is not mounted", r.StandardError);
    }

    [SkippableFact]
    public void RunPassesArgumentsThatAreNotUtf8ByteForByte()
    {
        Require();
        using var s = new LauncherSandbox();
        string xar = TestXar.Build(s.AppTree, s["app.xar"]);
        var env = s.Environment();
        env["PATH"] = Path.GetDirectoryName(LauncherBinary.Path) + ":" + Environment.GetEnvironmentVariable("PATH");
        env["XARBIN"] = XarBinary.Path;
        env["XAR"] = xar;
        // The program prints "[caf\xe9 \xff]\n[-o]\n" first: 14 bytes.
        var r = TestEnv.Run(new RunOptions("/bin/sh", ["-c", "\"$XARBIN\" run \"$XAR\" \"$(printf 'caf\\351 \\377')\" -o | head -c 14 | od -An -tx1"])
        {
            Environment = env,
            WorkingDirectory = s.Work,
        });
        LaunchAssert.Succeeded(r);
        Assert.Equal("5b636166e920ff5d0a5b2d6f5d0a", string.Concat(r.StandardOutput.Where(char.IsAsciiHexDigit)));
    }

    [SkippableFact]
    public void GcUnmountsIdleMountsOnlyAndDeletesOldCacheEntriesNotInUse()
    {
        Require();
        using var s = new LauncherSandbox();
        string idleXar = TestXar.Build(s.AppTree, s["idle.xar"]);
        string busyXar = TestXar.Build(s.AppTree, s["busy.xar"]);
        string freshXar = TestXar.Build(s.AppTree, s["fresh.xar"]);
        string cachedUuid = TestXar.NewUuid(), runningUuid = TestXar.NewUuid();
        string cachedXar = TestXar.Build(s.AppTree, s["cached.xar"], cachedUuid);
        string runningXar = TestXar.Build(s.AppTree, s["running.xar"], runningUuid);
        var env = s.Environment();
        env["XDG_CACHE_HOME"] = s["xdg"];
        env["TMPDIR"] = s["tmp"];

        string idleDir = Xar(s, env, "mount", idleXar).StandardOutput.TrimEnd('\n');
        string busyDir = Xar(s, env, "mount", busyXar).StandardOutput.TrimEnd('\n');
        LaunchAssert.Succeeded(s.Run(cachedXar, [], new Dictionary<string, string?>(env) { ["XAR_EXTRACT"] = "1" }));
        // A program running from the busy mount and one from a cache entry, both long-lived.
        var longEnv = new Dictionary<string, string?>(env) { ["XAR_TEST_SLEEP"] = "30" };
        using var busyRun = StartBackground(s, busyXar, longEnv);
        using var cachedRun = StartBackground(s, runningXar, new Dictionary<string, string?>(longEnv) { ["XAR_EXTRACT"] = "1" });
        WaitFor(() => Directory.Exists(Path.Combine(s.CacheDir, runningUuid)) && busyRunStarted(busyRun));
        string freshDir = Xar(s, env, "mount", freshXar).StandardOutput.TrimEnd('\n');
        // Last used an hour ago: everything but the fresh mount (no clocks raced in this test).
        var hourAgo = DateTime.UtcNow.AddHours(-1);
        foreach (string dir in (string[])[idleDir, busyDir])
            File.SetLastWriteTimeUtc(Path.Combine(Path.GetDirectoryName(dir)!, "lockfile." + Path.GetFileName(dir)), hourAgo);
        foreach (string uuid in (string[])[cachedUuid, runningUuid])
            File.SetLastWriteTimeUtc(Path.Combine(s.CacheDir, "lockfile." + uuid), hourAgo);

        var dry = Xar(s, env, "gc", "--idle", "10m", "--older-than", "10m", "--dry-run");
        LaunchAssert.Succeeded(dry);
        Assert.Contains($"would unmount: {idleDir}\n", dry.StandardOutput);
        Assert.Contains($"would delete: {Path.Combine(s.CacheDir, cachedUuid)}\n", dry.StandardOutput);
        Assert.Equal(3, s.Mounts().Count);

        var gc = Xar(s, env, "gc", "--idle", "10m", "--older-than", "10m", "-v");
        LaunchAssert.Succeeded(gc);
        Assert.Contains($"unmounted: {idleDir}\n", gc.StandardOutput);
        Assert.Contains($"recently used: {freshDir}\n", gc.StandardOutput);
        Assert.Contains($"deleted: {Path.Combine(s.CacheDir, cachedUuid)}\n", gc.StandardOutput);
        Assert.Contains($"in use: {Path.Combine(s.CacheDir, runningUuid)}\n", gc.StandardOutput);
        var mounts = s.Mounts();
        Assert.DoesNotContain(idleDir, mounts);
        Assert.Contains(busyDir, mounts); // busy: the program holds files open
        Assert.Contains(freshDir, mounts);
        Assert.False(Directory.Exists(Path.Combine(s.CacheDir, cachedUuid)));
        Assert.True(File.Exists(Path.Combine(s.CacheDir, runningUuid, "data", "payload.txt")));
        busyRun.Kill(entireProcessTree: true);
        cachedRun.Kill(entireProcessTree: true);
    }

    [SkippableFact]
    public void MountWithoutSquashfuseFailsWithTheReason()
    {
        TestEnv.RequireTool("mksquashfs");
        using var s = new LauncherSandbox();
        string xar = TestXar.Build(s.AppTree, s["app.xar"]);
        var env = s.Environment();
        var r = TestEnv.Run(new RunOptions(XarBinary.Path, ["mount", xar]) { Environment = new Dictionary<string, string?>(env) { ["PATH"] = "/nonexistent" } });
        Assert.Equal(1, r.ExitCode);
        Assert.Equal($"xar: {xar}: cannot mount: neither squashfuse_ll nor squashfuse is on PATH (xar extract unpacks it instead)\n", r.StandardError);
        Assert.Empty(s.Mounts());
    }

    [SkippableFact]
    public void UnmountLeavesOtherMountsAlone()
    {
        using var s = new LauncherSandbox();
        var r = Xar(s, null, "unmount", "/proc");
        Assert.Equal(1, r.ExitCode);
        Assert.Equal("xar: /proc: /proc is a proc mount, not a XAR (squashfuse) mount\n", r.StandardError);
    }

    [SkippableFact]
    public void RunOfAMissingFileIsBadInput()
    {
        using var s = new LauncherSandbox();
        var r = Xar(s, null, "run", s["missing.xar"], "x");
        Assert.Equal(2, r.ExitCode);
        Assert.Equal($"xar: {s["missing.xar"]}: no such file\n", r.StandardError);
    }

    [SkippableFact]
    public void GcReportsAnEntryItCannotDeleteAndGoesOnWithTheRest()
    {
        Require();
        TestEnv.RequireTool("chattr");
        using var s = new LauncherSandbox();
        string stuckUuid = TestXar.NewUuid(), oldUuid = TestXar.NewUuid();
        string stuckXar = TestXar.Build(s.AppTree, s["stuck.xar"], stuckUuid);
        string oldXar = TestXar.Build(s.AppTree, s["old.xar"], oldUuid);
        var env = s.Environment();
        env["XDG_CACHE_HOME"] = s["xdg"];
        env["TMPDIR"] = s["tmp"];
        foreach (string xar in (string[])[stuckXar, oldXar])
            LaunchAssert.Succeeded(s.Run(xar, [], new Dictionary<string, string?>(env) { ["XAR_EXTRACT"] = "1" }));
        foreach (string uuid in (string[])[stuckUuid, oldUuid])
            File.SetLastWriteTimeUtc(Path.Combine(s.CacheDir, "lockfile." + uuid), DateTime.UtcNow.AddHours(-1));
        // An immutable file: even root cannot delete it, so that entry's deletion fails part way.
        string pinned = Path.Combine(s.CacheDir, stuckUuid, "data", "payload.txt");
        TestEnv.Run("chattr", "+i", pinned).EnsureSuccess("chattr +i");
        try
        {
            var gc = Xar(s, env, "gc", "--idle", "10m", "--older-than", "10m");
            Assert.Equal(1, gc.ExitCode);
            Assert.Contains($"xar: {Path.Combine(s.CacheDir, stuckUuid)}: cannot delete", gc.StandardError);
            Assert.Single(gc.StandardError.TrimEnd('\n').Split('\n'));
            Assert.Contains($"deleted: {Path.Combine(s.CacheDir, oldUuid)}\n", gc.StandardOutput);
            Assert.False(Directory.Exists(Path.Combine(s.CacheDir, oldUuid)));
            Assert.False(Directory.Exists(Path.Combine(s.CacheDir, stuckUuid))); // renamed away: never seen as complete
        }
        finally
        {
            TestEnv.Run("chattr", "-R", "-i", s.CacheDir);
        }
    }

    [SkippableFact]
    public void GcRejectsABadDuration()
    {
        using var s = new LauncherSandbox();
        var r = Xar(s, null, "gc", "--idle", "soon");
        Assert.Equal(2, r.ExitCode);
        Assert.Equal("xar: --idle soon: not a duration (like 90s, 15m, 2h, 30d)\n", r.StandardError);
    }

    private static System.Diagnostics.Process StartBackground(LauncherSandbox s, string xar, Dictionary<string, string?> env)
    {
        var psi = new System.Diagnostics.ProcessStartInfo(LauncherBinary.Path) { UseShellExecute = false, RedirectStandardOutput = true };
        psi.ArgumentList.Add(xar);
        foreach (var (k, v) in s.Environment())
            if (v is null) psi.Environment.Remove(k); else psi.Environment[k] = v;
        foreach (var (k, v) in env)
            if (v is null) psi.Environment.Remove(k); else psi.Environment[k] = v;
        return System.Diagnostics.Process.Start(psi)!;
    }

    /// <summary>True once the program started from the mount has printed its first line (so it holds its files open).</summary>
    private static bool busyRunStarted(System.Diagnostics.Process p) => p.StandardOutput.Peek() >= 0;

    private static void WaitFor(Func<bool> condition)
    {
        var deadline = DateTime.UtcNow.AddSeconds(30);
        while (!condition())
        {
            if (DateTime.UtcNow > deadline)
                throw new TimeoutException("condition not reached");
            Thread.Sleep(20);
        }
    }
}
