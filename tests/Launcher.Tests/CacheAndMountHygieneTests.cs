using System.Diagnostics;
using Xar.Tests;

namespace Xar.Launcher.Tests;

/// <summary>
/// Where launches leave things and how they are cleaned up: the cache the environment names, the XAR file
/// each mount and entry records, gc of mounts whose file was repacked or removed and of the trees of killed
/// extractions, and targets that are not programs.
/// </summary>
public class CacheAndMountHygieneTests
{
    private static void RequireFuse()
    {
        TestEnv.RequireRoot();
        TestEnv.RequireFuse();
        TestEnv.RequireTool("mksquashfs");
    }

    private static ProcessResult Xar(LauncherSandbox s, Dictionary<string, string?> env, params string[] args)
    {
        env["PATH"] = Path.GetDirectoryName(LauncherBinary.Path) + ":" + Environment.GetEnvironmentVariable("PATH");
        return TestEnv.Run(new RunOptions(XarBinary.Path, args) { Environment = env, WorkingDirectory = s.Work });
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
                ? Xar(s, new Dictionary<string, string?>(s.Environment(extract: true)) { ["XDG_CACHE_HOME"] = s["xdg"], ["XAR_CACHE_DIR"] = env["XAR_CACHE_DIR"] }, "run", xar)
                : s.Run(xar, [], env, extract: true);
            Assert.Equal(0, r.ExitCode);
            Assert.Contains($"XAR_MOUNT={env["XAR_CACHE_DIR"]}/{uuid}\n", r.StandardOutput);
            Assert.True(Directory.Exists(Path.Combine(env["XAR_CACHE_DIR"]!, uuid)));
        }
    }

    [SkippableFact]
    public void ATargetThatIsADirectoryIsTheLaunchersError()
    {
        TestEnv.RequireTool("mksquashfs");
        using var s = new LauncherSandbox();
        string xar = TestXar.Build(s.AppTree, s["app.xar"], execTarget: ".");
        Assert.Equal(0, s.Run("-m", [xar], extract: true).ExitCode); // extracted; mounting runs nothing
        var r = s.Run(xar, [], extract: true);
        Assert.Contains("XAREXEC_TARGET . is a directory, not a program", LaunchAssert.OneLineFailure(r, xar));
        Assert.Equal("", r.StandardOutput);
    }

    [SkippableFact]
    public void GcUnmountsARecentMountWhoseXarFileWasRepackedOrRemovedAndNamesTheFile()
    {
        RequireFuse();
        using var s = new LauncherSandbox();
        string xar = TestXar.Build(s.AppTree, s["app.xar"]);
        string other = TestXar.Build(s.AppTree, s["other.xar"]);
        var env = s.Environment();
        string first = Xar(s, env, "mount", xar).StandardOutput.TrimEnd('\n');
        string kept = Xar(s, env, "mount", other).StandardOutput.TrimEnd('\n');
        Assert.Equal(2, s.Mounts().Count);

        // Repacked: a new UUID at the same path. The old mount serves nobody, however recent.
        TestXar.Build(s.AppTree, xar);
        var gc = Xar(s, env, "gc", "-v");
        LaunchAssert.Succeeded(gc);
        Assert.Contains($"unmounted: {first}\n  from {xar}\n", gc.StandardOutput);
        Assert.Contains($"recently used: {kept}\n  from {other}\n", gc.StandardOutput);
        Assert.Equal([kept], s.Mounts());

        File.Delete(other);
        gc = Xar(s, env, "gc");
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
            var busy = Xar(s, env, "gc", "-v");
            LaunchAssert.Succeeded(busy);
            Assert.True(Directory.Exists(leftover));
            holder.Kill(entireProcessTree: true); // sleep holds the lock too
            holder.WaitForExit();
        }
        for (int i = 0; i < 100 && TestEnv.Run("flock", "-n", "-x", lockPath, "true").ExitCode != 0; i++)
            Thread.Sleep(50); // until the killed sleep is gone too

        var gc = Xar(s, env, "gc");
        LaunchAssert.Succeeded(gc);
        Assert.Contains($"deleted: {leftover}\n", gc.StandardOutput);
        Assert.False(Directory.Exists(leftover));
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
        var gc = Xar(s, s.Environment(), "gc");
        LaunchAssert.Succeeded(gc);
        Assert.Equal($"deleted: {entry}\n", gc.StandardOutput);
        Assert.False(Directory.Exists(entry));
    }
}
