using System.Text;
using Xar.Tests;

namespace Xar.Launcher.Tests;

/// <summary>
/// The pre-runtime fast start (src/Launcher/PreRuntime): a warm or cached launch execs before the
/// .NET runtime starts, and with a live mount or a complete cache entry in place every rule the
/// full launcher enforces still holds: a bad header, a bad environment or a planted file is still
/// refused with the full launcher's own message.
/// </summary>
public class FastStartTests
{
    private static void Require()
    {
        TestEnv.RequireRoot();
        TestEnv.RequireFuse();
        TestEnv.RequireTool("mksquashfs");
    }

    /// <summary>
    /// The launcher's own system calls (strace, no -f: the warm and cached paths start no child) up to
    /// its exec of /bin/sh; asserts that exec happened.
    /// </summary>
    private static string[] TracedUntilShell(LauncherSandbox s, string xar, bool extract)
    {
        TestEnv.RequireTool("strace");
        string log = s["strace-" + Guid.NewGuid().ToString("N") + ".log"];
        var r = TestEnv.Run(new RunOptions("strace", ["-o", log, "-e", "trace=openat,execve", LauncherBinary.Path, xar, "a b"])
        {
            Environment = s.Environment(extract),
            WorkingDirectory = s.Work,
        });
        LaunchAssert.Succeeded(r);
        Assert.StartsWith("[a b]\n", r.StandardOutput);
        var lines = File.ReadAllLines(log);
        int shell = Array.FindIndex(lines, l => l.StartsWith("execve(\"/bin/sh\", [\"/bin/sh\", \"-e\", ", StringComparison.Ordinal));
        Assert.True(shell > 0, "no exec of /bin/sh in:\n" + string.Join("\n", lines));
        return lines[..shell];
    }

    /// <summary>What only the runtime's start opens (its cgroup and stack probes): absent means it never started.</summary>
    private static void AssertNoRuntimeStart(string[] launcherCalls)
    {
        foreach (string line in launcherCalls)
        {
            Assert.DoesNotContain("/proc/self/mountinfo", line);
            Assert.DoesNotContain("/proc/self/maps", line);
        }
    }

    [SkippableFact]
    public void AWarmLaunchExecsBeforeTheRuntimeStarts()
    {
        Require();
        using var s = new LauncherSandbox();
        string xar = TestXar.Build(s.AppTree, s["app.xar"]);
        var cold = TracedColdRunOpensTheRuntime(s, xar);
        Assert.Contains(cold, l => l.Contains("/proc/self/mountinfo"));
        var warm = TracedUntilShell(s, xar, extract: false);
        AssertNoRuntimeStart(warm);
        Assert.Contains(warm, l => l.Contains("/xar_bootstrap.sh\", O_RDONLY|O_NOCTTY)")); // the target, held open across exec
        Assert.Single(s.Mounts());
    }

    /// <summary>The first run mounts, so the full launcher runs: the check above would notice a runtime start.</summary>
    private static string[] TracedColdRunOpensTheRuntime(LauncherSandbox s, string xar)
    {
        string log = s["strace-cold.log"];
        // -f would follow squashfuse into the background; without it the launcher's own calls are all there.
        var r = TestEnv.Run(new RunOptions("strace", ["-o", log, "-e", "trace=openat,execve", LauncherBinary.Path, xar])
        {
            Environment = s.Environment(),
            WorkingDirectory = s.Work,
        });
        LaunchAssert.Succeeded(r);
        Assert.Contains("NEW_MOUNT=1\n", r.StandardOutput);
        return File.ReadAllLines(log);
    }

    [SkippableFact]
    public void ACachedLaunchExecsBeforeTheRuntimeStartsAndHoldsTheEntrysLock()
    {
        Require();
        TestEnv.RequireTool("flock");
        using var s = new LauncherSandbox();
        string uuid = TestXar.NewUuid();
        string xar = TestXar.Build(s.AppTree, s["app.xar"], uuid);
        var first = s.Run(xar, [], extract: true);
        LaunchAssert.Succeeded(first);
        Assert.Contains("extracted once", first.StandardError);
        var cached = TracedUntilShell(s, xar, extract: true);
        AssertNoRuntimeStart(cached);

        // While the program runs, the entry's lock is held (shared), so gc sees the entry in use.
        string lockFile = Path.Combine(s.CacheDir, "lockfile." + uuid);
        var psi = new System.Diagnostics.ProcessStartInfo(LauncherBinary.Path) { UseShellExecute = false, RedirectStandardOutput = true };
        psi.ArgumentList.Add(xar);
        foreach (var (k, v) in s.Environment(extract: true))
            if (v is null) psi.Environment.Remove(k); else psi.Environment[k] = v;
        psi.Environment["XAR_TEST_SLEEP"] = "30";
        using var running = System.Diagnostics.Process.Start(psi)!;
        try
        {
            Assert.StartsWith("XAR_PATH=", running.StandardOutput.ReadLine()); // the program has started
            Assert.Equal(1, TestEnv.Run("flock", "-n", "-x", lockFile, "true").ExitCode);
            Assert.Equal(0, TestEnv.Run("flock", "-n", "-s", lockFile, "true").ExitCode);
        }
        finally
        {
            running.Kill(entireProcessTree: true);
        }
        Assert.Equal("", s.Run(xar, [], extract: true).StandardError); // reused: no "extracted" line
    }

    /// <summary>A header like XarHeader.ToBytes() writes, with <paramref name="edit"/> applied to its text.</summary>
    private static byte[] WithHeader(byte[] good, Func<string, string> edit)
    {
        string text = Encoding.ASCII.GetString(good, 0, 4096).TrimEnd('\n') + "\n";
        byte[] header = Encoding.ASCII.GetBytes(edit(text));
        Assert.True(header.Length <= 4096);
        var bytes = (byte[])good.Clone();
        Array.Fill(bytes, (byte)'\n', 0, 4096);
        header.CopyTo(bytes, 0);
        return bytes;
    }

    public static TheoryData<string, string> HeaderCases => new()
    {
        { "shebang", "not a XAR file" },
        { "offset-text", "not an unsigned integer" },
        { "unquoted", "not NAME=\"value\"" },
        { "duplicate", "assigned more than once" },
        { "no-version", "missing required header values: VERSION" },
        { "trampoline", "lacks the required name" },
        { "offset-unaligned", "not a positive multiple" },
        { "no-magic", "no SquashFS magic" },
        { "no-target", "no XAREXEC_TARGET" },
        { "target-escapes", "must be a relative path inside the image" },
    };

    [SkippableTheory]
    [MemberData(nameof(HeaderCases))]
    public void WithALiveMountABadHeaderIsStillRefused(string name, string expected)
    {
        Require();
        using var s = new LauncherSandbox();
        string xar = TestXar.Build(s.AppTree, s["app.xar"]);
        LaunchAssert.Succeeded(s.Run(xar, []));
        string mount = Assert.Single(s.Mounts());
        byte[] good = File.ReadAllBytes(xar);
        byte[] bad = name switch
        {
            "shebang" => WithHeader(good, t => t.Replace("#!/usr/bin/env xarexec_fuse", "#!/usr/bin/env xarexec")),
            "offset-text" => WithHeader(good, t => t.Replace("OFFSET=\"4096\"", "OFFSET=\"4O96\"")),
            "unquoted" => WithHeader(good, t => t.Replace("#xar_stop", "NAME=value\n#xar_stop")),
            "duplicate" => WithHeader(good, t => t.Replace("#xar_stop", "VERSION=\"2\"\n#xar_stop")),
            "no-version" => WithHeader(good, t => string.Join("\n", t.Split('\n').Where(l => !l.StartsWith("VERSION=", StringComparison.Ordinal)))),
            "trampoline" => WithHeader(good, t => t.Replace("#xar_stop", "XAREXEC_TRAMPOLINE_NAMES=\"'a' 'b'\"\n#xar_stop")),
            "offset-unaligned" => WithHeader(good, t => t.Replace("OFFSET=\"4096\"", "OFFSET=\"4097\"")),
            "no-magic" => Patched(good, 4096, "hsqt"u8),
            "no-target" => WithHeader(good, t => string.Join("\n", t.Split('\n').Where(l => !l.StartsWith("XAREXEC_TARGET=", StringComparison.Ordinal)))),
            "target-escapes" => WithHeader(good, t => t.Replace("XAREXEC_TARGET=\"xar_bootstrap.sh\"", "XAREXEC_TARGET=\"../xar_bootstrap.sh\"")),
            _ => throw new ArgumentException(name),
        };
        Assert.NotEqual(good, bad);
        string file = s[name + ".xar"];
        File.WriteAllBytes(file, bad);
        File.SetUnixFileMode(file, (UnixFileMode)0x1ED);
        var r = s.Run(file, ["arg"]);
        Assert.Contains(expected, LaunchAssert.OneLineFailure(r, file));
        Assert.Equal("", r.StandardOutput);
        Assert.Equal(mount, Assert.Single(s.Mounts()));
    }

    private static byte[] Patched(byte[] good, int at, ReadOnlySpan<byte> bytes)
    {
        var copy = (byte[])good.Clone();
        bytes.CopyTo(copy.AsSpan(at));
        return copy;
    }

    [SkippableFact]
    public void WithALiveMountEveryEnvironmentCheckStillHolds()
    {
        Require();
        using var s = new LauncherSandbox();
        string xar = TestXar.Build(s.AppTree, s["app.xar"]);
        LaunchAssert.Succeeded(s.Run(xar, []));
        string mount = Assert.Single(s.Mounts());
        string userDir = Path.GetDirectoryName(mount)!;
        string lockFile = Path.Combine(userDir, "lockfile." + Path.GetFileName(mount));

        string Refused(IReadOnlyDictionary<string, string?>? env = null)
        {
            var r = s.Run(xar, [], env);
            Assert.Equal("", r.StandardOutput);
            return LaunchAssert.OneLineFailure(r, xar);
        }

        Assert.Contains("XAR_MOUNT_TIMEOUT", Refused(new Dictionary<string, string?> { ["XAR_MOUNT_TIMEOUT"] = "soon" }));

        File.SetUnixFileMode(lockFile, (UnixFileMode)0x1B6); // 0666
        Assert.Contains("has mode 0666, expected 0600", Refused());
        File.SetUnixFileMode(lockFile, (UnixFileMode)0x180);

        File.SetUnixFileMode(userDir, (UnixFileMode)0x1FF); // 0777
        Assert.Contains("has mode 0777, expected 0755", Refused());
        File.SetUnixFileMode(userDir, (UnixFileMode)0x1ED);

        File.SetUnixFileMode(s.MountRoot, (UnixFileMode)0x1FF); // 0777, no sticky bit
        Assert.Contains("has mode 777, expected 1777", Refused());
        File.SetUnixFileMode(s.MountRoot, (UnixFileMode)0x3FF);

        TestEnv.Run("chown", "4321", lockFile).EnsureSuccess("chown");
        Assert.Contains("owned by uid 4321", Refused());
        TestEnv.Run("chown", "0", lockFile).EnsureSuccess("chown");

        // Everything restored: the same launch runs again (through the fast start).
        var r = s.Run(xar, ["again"]);
        LaunchAssert.Succeeded(r);
        Assert.StartsWith("[again]\n", r.StandardOutput);
        Assert.Equal(mount, Assert.Single(s.Mounts()));
    }

    [SkippableFact]
    public void WithACompleteCacheEntryACacheOfSomeoneElseIsStillRefused()
    {
        Require();
        using var s = new LauncherSandbox();
        string uuid = TestXar.NewUuid();
        string xar = TestXar.Build(s.AppTree, s["app.xar"], uuid);
        LaunchAssert.Succeeded(s.Run(xar, [], extract: true));
        File.SetUnixFileMode(s.CacheDir, (UnixFileMode)0x1FF); // 0777: writable by others
        var r = s.Run(xar, [], extract: true);
        Assert.Contains("writable by others", LaunchAssert.OneLineFailure(r, xar));
        File.SetUnixFileMode(s.CacheDir, (UnixFileMode)0x1C0);
        string lockFile = Path.Combine(s.CacheDir, "lockfile." + uuid);
        File.SetUnixFileMode(lockFile, (UnixFileMode)0x1A4); // 0644
        r = s.Run(xar, [], extract: true);
        Assert.Contains("has mode 0644, expected 0600", LaunchAssert.OneLineFailure(r, xar));
    }
}
