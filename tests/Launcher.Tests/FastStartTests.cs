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
    /// The launcher's own system calls (strace without -f: squashfuse daemonizes, and the launcher
    /// runs nothing else) up to its exec of /bin/sh, and what the program printed.
    /// </summary>
    private static (string[] Calls, string Output) TracedUntilShell(LauncherSandbox s, string xar, bool extract, params string[] options)
    {
        TestEnv.RequireTool("strace");
        string log = s["strace-" + Guid.NewGuid().ToString("N") + ".log"];
        var r = TestEnv.Run(new RunOptions("strace", ["-o", log, "-e", "trace=openat,execve", LauncherBinary.Path, .. options, xar, "a b"])
        {
            Environment = s.Environment(extract),
            WorkingDirectory = s.Work,
        });
        LaunchAssert.Succeeded(r);
        var lines = File.ReadAllLines(log);
        if (options.Length > 0)
            return (lines, r.StandardOutput);
        Assert.StartsWith("[a b]\n", r.StandardOutput);
        int shell = Array.FindIndex(lines, l => l.StartsWith("execve(\"/bin/sh\", [\"/bin/sh\", \"-e\", ", StringComparison.Ordinal));
        Assert.True(shell > 0, "no exec of /bin/sh in:\n" + string.Join("\n", lines));
        return (lines[..shell], r.StandardOutput);
    }

    /// <summary>The runtime's start reads these (its cgroup and stack probes); the launcher itself never does.</summary>
    private static bool RuntimeStarted(string[] launcherCalls) =>
        launcherCalls.Any(l => l.Contains("/proc/self/mountinfo") || l.Contains("/proc/self/maps"));

    [SkippableFact]
    public void FirstColdAndWarmLaunchesExecBeforeTheRuntimeStarts()
    {
        Require();
        using var s = new LauncherSandbox();
        string xar = TestXar.Build(s.AppTree, s["app.xar"]);
        // The check can see the runtime: -n is an option, which only Main handles.
        Assert.True(RuntimeStarted(TracedUntilShell(s, xar, extract: false, "-n").Calls));

        var first = TracedUntilShell(s, xar, extract: false); // nothing exists yet: directories, lock file, mount
        Assert.False(RuntimeStarted(first.Calls));
        Assert.Contains("NEW_MOUNT=1\n", first.Output);
        string mount = Assert.Single(s.Mounts());

        var warm = TracedUntilShell(s, xar, extract: false);
        Assert.False(RuntimeStarted(warm.Calls));
        Assert.Contains("NEW_MOUNT=\n", warm.Output);
        Assert.Contains(warm.Calls, l => l.Contains("/xar_bootstrap.sh\", O_RDONLY|O_NOCTTY|O_CLOEXEC)")); // the target, held open across exec (a copy without close-on-exec)

        TestEnv.Run("fusermount3", "-u", "-z", mount).EnsureSuccess("fusermount3");
        Assert.Empty(s.Mounts());
        var cold = TracedUntilShell(s, xar, extract: false); // mounts again (the idle timeout's case)
        Assert.False(RuntimeStarted(cold.Calls));
        Assert.Contains("NEW_MOUNT=1\n", cold.Output);
        Assert.Equal(mount, Assert.Single(s.Mounts()));
    }

    /// <summary>
    /// A mount root and a cache named with trailing slashes: the fast start trims them as Main does,
    /// so it execs the target under the directory `-n` prints and under the entry Main extracted,
    /// path for path, without starting the runtime.
    /// </summary>
    [SkippableFact]
    public void RootsNamedWithTrailingSlashesAreTheSameRootsToTheFastStart()
    {
        Require();
        using var s = new LauncherSandbox();
        string uuid = TestXar.NewUuid();
        string xar = TestXar.Build(s.AppTree, s["app.xar"], uuid);
        var env = s.Environment();
        env["XAR_MOUNT_ROOT"] = s.MountRoot + "//";
        env["XAR_CACHE_DIR"] = s.CacheDir + "/";
        ProcessResult Launch(params string[] args) =>
            TestEnv.Run(new RunOptions(args[0], args[1..]) { Environment = env, WorkingDirectory = s.Work });
        void ExecsBeforeTheRuntime(string directory)
        {
            string log = s["strace-" + Guid.NewGuid().ToString("N") + ".log"];
            var r = Launch("strace", "-s", "4096", "-o", log, "-e", "trace=openat,execve", LauncherBinary.Path, xar);
            LaunchAssert.Succeeded(r);
            Assert.Equal("", r.StandardError); // mounted, or found in the cache: nothing extracted
            var calls = File.ReadAllLines(log);
            Assert.False(RuntimeStarted(calls));
            Assert.Contains(calls, l => l.StartsWith($"execve(\"/bin/sh\", [\"/bin/sh\", \"-e\", \"{directory}/{TestXar.BootstrapName}\"", StringComparison.Ordinal));
        }

        var printed = Launch(LauncherBinary.Path, "-n", xar);
        LaunchAssert.Succeeded(printed);
        ExecsBeforeTheRuntime(printed.StandardOutput.Trim());
        Assert.Equal(printed.StandardOutput.Trim(), Assert.Single(s.Mounts()));

        env["XAR_EXTRACT"] = "1";
        var first = Launch(LauncherBinary.Path, xar);
        LaunchAssert.Succeeded(first);
        string entry = Path.Combine(s.CacheDir, uuid);
        Assert.EndsWith($"extracted once into {entry}\n", first.StandardError);
        ExecsBeforeTheRuntime(entry);
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
        Assert.False(RuntimeStarted(TracedUntilShell(s, xar, extract: true).Calls));

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

        File.SetUnixFileMode(userDir, (UnixFileMode)0x1FF); // 0777: not mounted in; extracted instead
        var extracted = s.Run(xar, []);
        LaunchAssert.Succeeded(extracted);
        Assert.Contains("has mode 0777, expected 0755", extracted.StandardError);
        Assert.Contains("XAR_MOUNT=" + s.CacheDir + "/", extracted.StandardOutput);
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

    public static TheoryData<string, string, string?, string?> SquashfuseCases => new()
    {
        { "user_allow_other\n", "app.xar", null, null },
        { "# user_allow_other\n  user_allow_other\t\n", "./sub/../app.xar", "5", "build-42" },
        { "#user_allow_other\nmount_max = 10\n", "sub/.././/app.xar", "", "with/slash" },
        { "", "app.xar", "0", "" },
    };

    /// <summary>
    /// The fast start and Main (which `-m` goes through) run the same core, so they spawn squashfuse with the
    /// same command line: the image as descriptor 3 (the file whose header was read), offset, timeout,
    /// allow_root from /etc/fuse.conf (a private one, bind-mounted in a mount namespace of the test's own).
    /// A squashfuse_ll first on PATH records each command line it gets, then runs the real one.
    /// </summary>
    [SkippableTheory]
    [MemberData(nameof(SquashfuseCases))]
    public void TheFastStartSpawnsSquashfuseExactlyAsMainDoes(string fuseConf, string relativePath, string? timeout, string? seed)
    {
        Require();
        TestEnv.RequireTool("unshare");
        TestEnv.RequireTool("strace");
        using var s = new LauncherSandbox();
        TestXar.Build(s.AppTree, Path.Combine(s.Work, "app.xar"));
        Directory.CreateDirectory(Path.Combine(s.Work, "sub"));
        File.WriteAllText(s["fuse.conf"], fuseConf);
        string bin = s["bin"];
        Directory.CreateDirectory(bin);
        // One line per run: the path it was started by, then each argument, in brackets.
        TestXar.WriteExecutable(Path.Combine(bin, "squashfuse_ll"),
            "#!/bin/sh\nline=\"[$0]\"\nfor a in \"$@\"; do line=\"$line [$a]\"; done\necho \"$line\" >>\"$SPAWN_LOG\"\nexec \"$REAL_SQUASHFUSE\" \"$@\"\n");
        string script = """
            set -e
            mount --bind "$CONF" /etc/fuse.conf
            dir=$("$LAUNCHER" -m "$XAR")
            umount -l "$dir"
            out=$(strace -o "$TRACE" -e trace=openat "$LAUNCHER" "$XAR")
            case "$out" in *NEW_MOUNT=1*) ;; *) echo "no new mount: $out"; exit 1;; esac
            if grep -q /proc/self/mountinfo "$TRACE"; then echo "the runtime started: Main mounted"; exit 1; fi
            umount -l "$dir"
            echo "$dir"
            """;
        var env = s.Environment();
        env["CONF"] = s["fuse.conf"];
        env["LAUNCHER"] = LauncherBinary.Path;
        env["XAR"] = relativePath;
        env["XAR_MOUNT_TIMEOUT"] = timeout;
        env["XAR_MOUNT_SEED"] = seed;
        env["TRACE"] = s["strace.log"];
        env["SPAWN_LOG"] = s["spawns.log"];
        env["REAL_SQUASHFUSE"] = TestEnv.FindTool("squashfuse_ll");
        env["PATH"] = bin + ":" + System.Environment.GetEnvironmentVariable("PATH");
        env["XAR_FUSE"] = "squashfuse";
        var r = TestEnv.Run(new RunOptions("unshare", ["-m", "--propagation", "private", "/bin/sh", "-c", script])
        {
            Environment = env,
            WorkingDirectory = s.Work,
        });
        LaunchAssert.Succeeded(r);
        string mountDir = r.StandardOutput.Trim();
        var spawns = File.ReadAllLines(s["spawns.log"]);
        Assert.Equal(2, spawns.Length); // Main's, then the fast start's
        Assert.Equal(spawns[0], spawns[1]);
        string options = "offset=4096" + (timeout is null ? ",timeout=870" : timeout is "5" ? ",timeout=5" : "")
            + (fuseConf.Split('\n').Any(l => l.Trim() == "user_allow_other") ? ",allow_root" : "");
        Assert.Equal($"[{Path.Combine(bin, "squashfuse_ll")}] [-o] [{options}] [/dev/fd/3] [{mountDir}]", spawns[1]);
        Assert.Equal(seed == "build-42", mountDir.Contains("-seed-build-42-ns-"));
    }

    /// <summary>
    /// The same for the built-in server: the fast start and Main start it with the same command line (read from
    /// /proc once each has mounted), and the fast start does so without starting the runtime.
    /// </summary>
    [SkippableTheory]
    [MemberData(nameof(SquashfuseCases))]
    public void TheFastStartStartsTheBuiltInServerExactlyAsMainDoes(string fuseConf, string relativePath, string? timeout, string? seed)
    {
        Require();
        TestEnv.RequireTool("unshare");
        TestEnv.RequireTool("strace");
        using var s = new LauncherSandbox();
        TestXar.Build(s.AppTree, Path.Combine(s.Work, "app.xar"));
        Directory.CreateDirectory(Path.Combine(s.Work, "sub"));
        File.WriteAllText(s["fuse.conf"], fuseConf);
        string script = ServerShell.ServerFunction + """
            set -e
            mount --bind "$CONF" /etc/fuse.conf
            dir=$("$LAUNCHER" -m "$XAR")
            server "$dir"
            umount -l "$dir"
            out=$(strace -o "$TRACE" -e trace=openat "$LAUNCHER" "$XAR")
            case "$out" in *NEW_MOUNT=1*) ;; *) echo "no new mount: $out"; exit 1;; esac
            if grep -q /proc/self/mountinfo "$TRACE"; then echo "the runtime started: Main mounted"; exit 1; fi
            server "$dir"
            umount -l "$dir"
            echo "$dir"
            """;
        var env = s.Environment();
        env["CONF"] = s["fuse.conf"];
        env["LAUNCHER"] = LauncherBinary.Path;
        env["XAR"] = relativePath;
        env["XAR_MOUNT_TIMEOUT"] = timeout;
        env["XAR_MOUNT_SEED"] = seed;
        env["TRACE"] = s["strace.log"];
        var r = TestEnv.Run(new RunOptions("unshare", ["-m", "--propagation", "private", "/bin/sh", "-c", script])
        {
            Environment = env,
            WorkingDirectory = s.Work,
        });
        LaunchAssert.Succeeded(r);
        var lines = r.StandardOutput.TrimEnd('\n').Split('\n');
        Assert.Equal(3, lines.Length); // Main's server, the fast start's, the mount directory
        string mountDir = lines[2];
        Assert.Equal(lines[0], lines[1]);
        string expectedTimeout = timeout is null ? "870" : timeout is "5" ? "5" : "0";
        string allowRoot = fuseConf.Split('\n').Any(l => l.Trim() == "user_allow_other") ? "--allow-root " : "";
        Assert.Equal($"xarexec --fuse-serve --image-fd 3 --ready-fd 4 --offset 4096 --timeout {expectedTimeout} {allowRoot}-- {mountDir} ", lines[1]);
        Assert.Equal(seed == "build-42", mountDir.Contains("-seed-build-42-ns-"));
    }

    /// <summary>
    /// Started with stdin and stdout closed, the program finds them closed, on every path (first
    /// mount, warm, first extraction, cached): the descriptors the launcher hands on (the target,
    /// the cache lock) never take 0, 1 or 2.
    /// </summary>
    [SkippableFact]
    public void ClosedStandardDescriptorsStayClosedForTheProgram()
    {
        Require();
        using var s = new LauncherSandbox();
        string tree = s["fd-tree"];
        Directory.CreateDirectory(tree);
        TestXar.WriteExecutable(Path.Combine(tree, TestXar.BootstrapName), TestXar.Bootstrap("report"));
        TestXar.WriteExecutable(Path.Combine(tree, "report"),
            "#!/bin/sh\nr=\nfor fd in 0 1 2; do if [ -e /proc/$$/fd/$fd ]; then r=\"$r$fd:open \"; else r=\"$r$fd:closed \"; fi; done\necho \"$r\" >\"$OUT\"\n");
        string xar = TestXar.Build(tree, s["fd.xar"]);
        foreach (bool extract in (bool[])[false, false, true, true])
        {
            var env = s.Environment(extract);
            env["OUT"] = s["report.txt"];
            env["LAUNCHER"] = LauncherBinary.Path;
            env["XAR"] = xar;
            File.Delete(s["report.txt"]);
            var r = TestEnv.Run(new RunOptions("/bin/sh", ["-c", "exec \"$LAUNCHER\" \"$XAR\" <&- >&-"]) { Environment = env, WorkingDirectory = s.Work });
            Assert.True(File.Exists(s["report.txt"]), $"the program did not run (extract={extract}): {r.StandardError}");
            Assert.Equal("0:closed 1:closed 2:open \n", File.ReadAllText(s["report.txt"]));
        }
    }
}
