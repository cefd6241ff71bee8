using System.Diagnostics;
using Xar.Tests;

namespace Xar.Packer.Tests;

/// <summary>
/// `xar gc`: unmounts idle mounts and those whose XAR file was repacked or removed, deletes old cache
/// entries and the trees of killed extractions, never one in use; reports what it cannot delete.
/// </summary>
[Collection(SandboxedXarCollection.Name)]
public class GcCommandTests
{
    /// <summary>
    /// A cache root whose name is not UTF-8 (XAR_CACHE_DIR is bytes): the launcher extracts there and names it with
    /// the byte escaped, and gc finds and deletes its old entries. Before, gc looked for the root under .NET's
    /// decoding of its name (U+FFFD for the byte), found nothing and said nothing.
    /// </summary>
    [Fact]
    public void GcDeletesOldEntriesOfACacheRootThatIsNotUtf8()
    {
        using var tmp = new TempDir("gc-bytes");
        string tree = tmp["tree"];
        Directory.CreateDirectory(tree);
        File.WriteAllText(Path.Combine(tree, "hello"), "#!/bin/sh\necho hello\n");
        File.SetUnixFileMode(Path.Combine(tree, "hello"), (UnixFileMode)Convert.ToInt32("755", 8));
        string xar = tmp["app.xar"];
        XarCli.Run("pack", tree, "-o", xar, "--exec", "hello", "--quiet").EnsureSuccess("xar pack");
        // All in sh: the root's name cannot be a .NET string. HOME and XDG_CACHE_HOME keep gc off the real caches.
        const string script = """
            c="$1/c$(printf '\375')"; xar=$2; app=$3; xarexec=$4
            mkdir -m 700 "$c" "$1/home" "$1/xdg"
            export HOME="$1/home" XDG_CACHE_HOME="$1/xdg" XAR_CACHE_DIR="$c"
            [ "$(XAR_EXTRACT=1 "$xarexec" "$app" 2> "$1/run.err")" = hello ] || exit 10
            set -- "$1" "$c"/lockfile.*
            [ $# = 2 ] && [ -d "${2%/lockfile.*}/${2##*/lockfile.}" ] || exit 11
            touch -d '40 days ago' "$2"
            "$xar" gc > "$1/gc.out" || exit 12
            [ -z "$(ls -A "$c")" ] || exit 13
            """;
        var r = TestEnv.Run(new RunOptions("/bin/sh", ["-c", script, "sh", tmp.Path, XarBinary.Path, xar, LauncherBinary.Path]));
        Assert.True(r.ExitCode == 0, $"step {r.ExitCode}: {r.StandardOutput}{r.StandardError}");
        string uuid = XarCli.Run("info", xar).EnsureSuccess("xar info").StandardOutput.Split('\n').Select(l => l.Trim())
            .First(l => l.StartsWith("UUID=", StringComparison.Ordinal))["UUID=".Length..];
        string shown = tmp.Path + "/c\\xfd/" + uuid;
        Assert.Equal($"xarexec: {xar}: XAR_EXTRACT=1: extracted once into {shown}\n", File.ReadAllText(tmp["run.err"]));
        Assert.Equal($"deleted: {shown}\n", File.ReadAllText(tmp["gc.out"]));
    }

    [SkippableFact]
    public void GcUnmountsIdleMountsOnlyAndDeletesOldCacheEntriesNotInUse()
    {
        SandboxedXar.RequireMounting();
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

        string idleDir = SandboxedXar.Run(s, env, "mount", idleXar).StandardOutput.TrimEnd('\n');
        string busyDir = SandboxedXar.Run(s, env, "mount", busyXar).StandardOutput.TrimEnd('\n');
        LaunchAssert.Succeeded(s.Run(cachedXar, [], new Dictionary<string, string?>(env) { ["XAR_EXTRACT"] = "1" }));
        // A program running from the busy mount and one from a cache entry, both long-lived.
        var longEnv = new Dictionary<string, string?>(env) { ["XAR_TEST_SLEEP"] = "30" };
        using var busyRun = StartBackground(s, busyXar, longEnv);
        using var cachedRun = StartBackground(s, runningXar, new Dictionary<string, string?>(longEnv) { ["XAR_EXTRACT"] = "1" });
        WaitFor(() => Directory.Exists(Path.Combine(s.CacheDir, runningUuid)) && busyRunStarted(busyRun));
        string freshDir = SandboxedXar.Run(s, env, "mount", freshXar).StandardOutput.TrimEnd('\n');
        // Last used an hour ago: everything but the fresh mount (no clocks raced in this test).
        var hourAgo = DateTime.UtcNow.AddHours(-1);
        foreach (string dir in (string[])[idleDir, busyDir])
            File.SetLastWriteTimeUtc(Path.Combine(Path.GetDirectoryName(dir)!, "lockfile." + Path.GetFileName(dir)), hourAgo);
        foreach (string uuid in (string[])[cachedUuid, runningUuid])
            File.SetLastWriteTimeUtc(Path.Combine(s.CacheDir, "lockfile." + uuid), hourAgo);

        var dry = SandboxedXar.Run(s, env, "gc", "--idle", "10m", "--older-than", "10m", "--dry-run");
        LaunchAssert.Succeeded(dry);
        Assert.Contains($"would unmount: {idleDir}\n", dry.StandardOutput);
        Assert.Contains($"would delete: {Path.Combine(s.CacheDir, cachedUuid)}\n", dry.StandardOutput);
        Assert.Equal(3, s.Mounts().Count);

        var gc = SandboxedXar.Run(s, env, "gc", "--idle", "10m", "--older-than", "10m", "-v");
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
    public void GcReportsAnEntryItCannotDeleteAndGoesOnWithTheRest()
    {
        SandboxedXar.RequireMounting();
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
            var gc = SandboxedXar.Run(s, env, "gc", "--idle", "10m", "--older-than", "10m");
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
        var r = SandboxedXar.Run(s, null, "gc", "--idle", "soon");
        Assert.Equal(2, r.ExitCode);
        Assert.Equal("xar: --idle soon: not a duration (like 90s, 15m, 2h, 30d)\n", r.StandardError);
    }

    /// <summary>
    /// `xar gc` deleted cache entries through .NET's string paths: a file name that is not UTF-8
    /// (any byte but '/' and NUL is a valid name in an image) could not be deleted, gc failed with
    /// "Directory not empty" (exit 1) and left the renamed entry behind for good.
    /// </summary>
    [SkippableFact]
    public void GcDeletesCacheEntryHoldingNonUtf8Names()
    {
        using var tmp = new TempDir("gc-names");
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
        var r = TestEnv.Run(new RunOptions(XarBinary.Path, ["gc", "--older-than", "3650d", "--idle", "3650d"]) { Environment = env });
        Assert.True(r.ExitCode == 0, r.StandardError);
        Assert.Empty(Directory.GetFileSystemEntries(cache));
    }

    [SkippableFact]
    public void GcUnmountsARecentMountWhoseXarFileWasRepackedOrRemovedAndNamesTheFile()
    {
        SandboxedXar.RequireMounting();
        using var s = new LauncherSandbox();
        string xar = TestXar.Build(s.AppTree, s["app.xar"]);
        string other = TestXar.Build(s.AppTree, s["other.xar"]);
        var env = s.Environment();
        string first = SandboxedXar.Run(s, env, "mount", xar).StandardOutput.TrimEnd('\n');
        string kept = SandboxedXar.Run(s, env, "mount", other).StandardOutput.TrimEnd('\n');
        Assert.Equal(2, s.Mounts().Count);

        // Repacked: a new UUID at the same path. The old mount serves nobody, however recent.
        TestXar.Build(s.AppTree, xar);
        var gc = SandboxedXar.Run(s, env, "gc", "-v");
        LaunchAssert.Succeeded(gc);
        Assert.Contains($"unmounted: {first}\n  from {xar}\n", gc.StandardOutput);
        Assert.Contains($"recently used: {kept}\n  from {other}\n", gc.StandardOutput);
        Assert.Equal([kept], s.Mounts());

        File.Delete(other);
        gc = SandboxedXar.Run(s, env, "gc");
        LaunchAssert.Succeeded(gc);
        Assert.Equal($"unmounted: {kept}\n", gc.StandardOutput);
        Assert.Empty(s.Mounts());
    }

    [SkippableFact]
    public void GcRemovesTheTreeOfAKilledExtractionOnlyWhenItsLockIsFree()
    {
        TestEnv.RequireTool("flock");
        using var s = new LauncherSandbox();
        Directory.CreateDirectory(s.CacheDir);
        string uuid = TestXar.NewUuid();
        string leftover = Path.Combine(s.CacheDir, $".{uuid}.xar-tmp-0123abcd");
        Directory.CreateDirectory(Path.Combine(leftover, "deep", "er"));
        File.WriteAllText(Path.Combine(leftover, "deep", "er", "half"), "written");
        File.SetUnixFileMode(Path.Combine(leftover, "deep"), (UnixFileMode)0x16D); // 0555: read-only on the way
        string lockPath = Path.Combine(s.CacheDir, "lockfile." + uuid);
        File.WriteAllText(lockPath, "");
        File.SetUnixFileMode(lockPath, (UnixFileMode)0x180);
        var env = s.Environment();

        // An extraction in progress holds the lock: its tree stays.
        using (var holder = Process.Start(new ProcessStartInfo("flock", ["-x", lockPath, "sleep", "30"]) { UseShellExecute = false })!)
        {
            for (int i = 0; i < 100 && TestEnv.Run("flock", "-n", "-x", lockPath, "true").ExitCode == 0; i++)
                Thread.Sleep(50);
            var busy = SandboxedXar.Run(s, env, "gc", "-v");
            LaunchAssert.Succeeded(busy);
            Assert.True(Directory.Exists(leftover));
            holder.Kill(entireProcessTree: true); // sleep holds the lock too
            holder.WaitForExit();
        }
        for (int i = 0; i < 100 && TestEnv.Run("flock", "-n", "-x", lockPath, "true").ExitCode != 0; i++)
            Thread.Sleep(50); // until the killed sleep is gone too

        var gc = SandboxedXar.Run(s, env, "gc");
        LaunchAssert.Succeeded(gc);
        Assert.Contains($"deleted: {leftover}\n", gc.StandardOutput);
        Assert.False(Directory.Exists(leftover));
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
