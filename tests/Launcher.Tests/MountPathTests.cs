using System.Diagnostics;
using System.Text;
using Xar.Tests;

namespace Xar.Launcher.Tests;

/// <summary>Runs through a mount: the launcher's main path (the built-in FUSE server; squashfuse with XAR_FUSE=squashfuse).</summary>
public class MountPathTests
{
    private static void Require()
    {
        TestEnv.RequireRoot();
        TestEnv.RequireFuse();
        TestEnv.RequireTool("mksquashfs");
    }

    [SkippableFact]
    public void LaterRunsReuseTheMountAndOnlyTheFirstSeesNewMount()
    {
        Require();
        using var s = new LauncherSandbox();
        string xar = TestXar.Build(s.AppTree, s["app.xar"]);
        var first = s.Run(xar, []);
        // An inherited XARFUSE_NEW_MOUNT must not leak into a run that did not mount.
        var second = s.Run(xar, [], new Dictionary<string, string?> { ["XARFUSE_NEW_MOUNT"] = "1" });
        LaunchAssert.Succeeded(first);
        LaunchAssert.Succeeded(second);
        Assert.Contains("NEW_MOUNT=1\n", first.StandardOutput);
        Assert.Contains("NEW_MOUNT=\n", second.StandardOutput);
        Assert.Single(s.Mounts());
    }

    [SkippableFact]
    public void ConcurrentFirstLaunchesShareOneMount()
    {
        Require();
        using var s = new LauncherSandbox();
        string xar = TestXar.Build(s.AppTree, s["app.xar"]);
        var results = new ProcessResult[32];
        Parallel.For(0, results.Length, new ParallelOptions { MaxDegreeOfParallelism = 32 },
            i => results[i] = s.Run(xar, [$"run{i}"]));
        for (int i = 0; i < results.Length; i++)
        {
            LaunchAssert.Succeeded(results[i]);
            Assert.StartsWith($"[run{i}]\n", results[i].StandardOutput);
        }
        Assert.Equal(1, results.Count(r => r.StandardOutput.Contains("NEW_MOUNT=1\n")));
        Assert.Single(s.Mounts());
    }

    /// <summary>XAR_FUSE for a server: the built-in one by default, squashfuse when asked.</summary>
    private static Dictionary<string, string?> Server(string server) => new() { ["XAR_FUSE"] = server == "xar" ? null : server };

    [SkippableTheory]
    [InlineData("xar")]
    [InlineData("squashfuse")]
    public void AKilledServerIsRecoveredByTheNextLaunch(string server)
    {
        Require();
        using var s = new LauncherSandbox();
        string xar = TestXar.Build(s.AppTree, s["app.xar"]);
        LaunchAssert.Succeeded(s.Run(xar, [], Server(server)));
        string mount = Assert.Single(s.Mounts());
        int pid = FindServer(mount, server);
        Process.GetProcessById(pid).Kill();
        Process.GetProcessById(pid).WaitForExit(10_000);
        Assert.Throws<IOException>(() => Directory.GetFiles(mount)); // ENOTCONN: the mount is broken now
        var r = s.Run(xar, ["again"], Server(server));
        LaunchAssert.Succeeded(r);
        Assert.StartsWith("[again]\n", r.StandardOutput);
        Assert.Contains("NEW_MOUNT=1\n", r.StandardOutput);
        Assert.Equal(mount, Assert.Single(s.Mounts()));
        Assert.Equal(server == "xar" ? "fuse.xar" : "fuse.squashfuse_ll", FileSystemType(mount));
    }

    [SkippableFact]
    public void SquashfuseGetsTheOffsetAndTheIdleTimeout()
    {
        Require();
        using var s = new LauncherSandbox();
        string xar = TestXar.Build(s.AppTree, s["app.xar"]);
        LaunchAssert.Succeeded(s.Run(xar, [], Server("squashfuse")));
        string mount = Assert.Single(s.Mounts());
        var argv = File.ReadAllText($"/proc/{FindServer(mount, "squashfuse")}/cmdline").Split('\0');
        string expected = "offset=4096,timeout=870" + (FuseConfAllowsOther() ? ",allow_root" : "");
        Assert.Equal(expected, argv[Array.IndexOf(argv, "-o") + 1]);
    }

    [SkippableFact]
    public void TheBuiltInServerGetsTheImageTheOffsetAndTheIdleTimeout()
    {
        Require();
        using var s = new LauncherSandbox();
        string xar = TestXar.Build(s.AppTree, s["app.xar"]);
        LaunchAssert.Succeeded(s.Run(xar, []));
        string mount = Assert.Single(s.Mounts());
        int pid = FindServer(mount, "xar");
        var argv = File.ReadAllText($"/proc/{pid}/cmdline").TrimEnd('\0').Split('\0');
        string[] expected = ["xarexec", "--fuse-serve", "--image-fd", "3", "--ready-fd", "4", "--offset", "4096", "--timeout", "870",
            .. FuseConfAllowsOther() ? ["--allow-root"] : Array.Empty<string>(), "--", mount];
        Assert.Equal(expected, argv);
        // It reads the very file the launcher opened (by descriptor 3, not by name), and /proc/mounts shows it.
        Assert.Equal(xar, new FileInfo($"/proc/{pid}/fd/3").LinkTarget);
        Assert.Equal(xar, MountSource(mount));
        Assert.Equal("fuse.xar", FileSystemType(mount));
    }

    /// <summary>
    /// The idle timeout: XAR_MOUNT_TIMEOUT, else the number in /var/lib/xarexec_timeout_override when root owns
    /// that file (as Facebook's launcher reads it), else 870. A private /var/lib in a mount namespace of the test's own.
    /// </summary>
    [SkippableTheory]
    [InlineData("7\n", "0", null, "7")]
    [InlineData("7\n", "0", "5", "5")]
    [InlineData("7\n", "65534", null, "870")]
    [InlineData("soon\n", "0", null, "870")]
    [InlineData(null, "0", null, "870")]
    public void TheIdleTimeoutComesFromTheVariableElseTheMachinesOverride(string? file, string owner, string? variable, string expected)
    {
        Require();
        TestEnv.RequireTool("unshare");
        using var s = new LauncherSandbox();
        string xar = TestXar.Build(s.AppTree, s["app.xar"]);
        string script = ServerShell.ServerFunction + """
            set -e
            mount -t tmpfs -o mode=0755 tmpfs /var/lib
            if [ -n "$CONTENT" ]; then printf '%s' "$CONTENT" > /var/lib/xarexec_timeout_override; chown "$OWNER" /var/lib/xarexec_timeout_override; fi
            dir=$("$LAUNCHER" -m "$XAR")
            server "$dir"
            umount -l "$dir"
            """;
        var env = s.Environment();
        env["CONTENT"] = file;
        env["OWNER"] = owner;
        env["LAUNCHER"] = LauncherBinary.Path;
        env["XAR"] = xar;
        env["XAR_MOUNT_TIMEOUT"] = variable;
        var r = TestEnv.Run(new RunOptions("unshare", ["-m", "--propagation", "private", "/bin/sh", "-c", script]) { Environment = env });
        LaunchAssert.Succeeded(r);
        Assert.Contains($" --timeout {expected} ", r.StandardOutput);
    }

    [SkippableFact]
    public void TheBuiltInServerIsNoChildOfTheProgramAndHoldsNothingOfIt()
    {
        Require();
        using var s = new LauncherSandbox();
        // The program lists its own children, and the launcher's descriptors it inherited.
        string tree = s["tree"];
        Directory.CreateDirectory(tree);
        TestXar.WriteExecutable(Path.Combine(tree, "run.sh"),
            "#!/bin/sh\nfor p in /proc/[0-9]*; do [ \"$(cut -d' ' -f4 $p/stat 2>/dev/null)\" = $$ ] && echo child $(tr '\\0' ' ' < $p/cmdline); done\necho done\n");
        string xar = TestXar.Build(tree, s["app.xar"], execTarget: "run.sh");
        var r = s.Run(xar, []);
        LaunchAssert.Succeeded(r);
        Assert.DoesNotContain("--fuse-serve", r.StandardOutput);
        Assert.EndsWith("done\n", r.StandardOutput);
        string mount = Assert.Single(s.Mounts());
        int pid = FindServer(mount, "xar");
        var stat = File.ReadAllText($"/proc/{pid}/stat");
        var fields = stat[(stat.LastIndexOf(')') + 2)..].Split(' ');
        Assert.Equal(pid.ToString(), fields[3]); // its own session (field 6 of stat)
        // stdio on /dev/null, the image, /dev/fuse, and what the runtime opens itself: nothing of the launcher's.
        // A pipe of its own (the runtime's signal pipe) it holds both ends of; the launcher's ready pipe, one end.
        var pipes = Directory.GetFiles($"/proc/{pid}/fd")
            .Select(fd => (Fd: fd, Target: new FileInfo(fd).LinkTarget))
            .Where(f => f.Target is not null && f.Target.StartsWith("pipe:", StringComparison.Ordinal))
            .GroupBy(f => f.Target);
        foreach (var pipe in pipes)
            Assert.True(pipe.Count() == 2, $"the server holds one end of a pipe from outside (the ready pipe?): {string.Join(", ", pipe.Select(f => $"{f.Fd} -> {f.Target}"))}");
        foreach (int fd in new[] { 0, 1, 2 })
            Assert.Equal("/dev/null", new FileInfo($"/proc/{pid}/fd/{fd}").LinkTarget);
    }

    [SkippableFact]
    public void EveryThreadOfTheServerButTheMainOneBlocksTheStopSignals()
    {
        Require();
        using var s = new LauncherSandbox();
        string xar = TestXar.Build(s.AppTree, s["app.xar"]);
        LaunchAssert.Succeeded(s.Run(xar, []));
        int pid = FindServer(Assert.Single(s.Mounts()), "xar");
        // Blocked before the runtime started, so a SIGTERM before the handlers waits for them instead of ending the
        // process through a runtime thread (the finalizer's) by its default action; the main thread takes them now.
        const ulong stop = (1UL << (15 - 1)) | (1UL << (2 - 1)) | (1UL << (1 - 1)); // SIGTERM, SIGINT, SIGHUP
        var threads = Directory.GetDirectories($"/proc/{pid}/task");
        Assert.True(threads.Length >= 3, $"{threads.Length} threads");
        foreach (string task in threads)
        {
            string status = File.ReadAllText(Path.Combine(task, "status"));
            string field = status.Split('\n').Single(l => l.StartsWith("SigBlk:", StringComparison.Ordinal));
            ulong blocked = Convert.ToUInt64(field["SigBlk:".Length..].Trim(), 16);
            string name = File.ReadAllText(Path.Combine(task, "comm")).Trim();
            if (Path.GetFileName(task) == pid.ToString())
                Assert.True((blocked & stop) == 0, $"the main thread still blocks {blocked:x}");
            else
                Assert.True((blocked & stop) == stop, $"thread {name} blocks {blocked:x}, not all of SIGTERM, SIGINT and SIGHUP");
        }
    }

    [SkippableFact]
    public void AnUnknownFuseServerIsRefusedBeforeAnythingIsMounted()
    {
        Require();
        using var s = new LauncherSandbox();
        string xar = TestXar.Build(s.AppTree, s["app.xar"]);
        var r = s.Run(xar, [], Server("fuse2"));
        Assert.Equal("XAR_FUSE=\"fuse2\" is not one of: xar (the built-in server, the default), squashfuse", LaunchAssert.OneLineFailure(r, xar));
        Assert.Empty(s.Mounts());
    }

    /// <summary>
    /// A mount that does not come about (squashfuse asked for and not on PATH) leaves no mount directory and no lock
    /// file: xar mount fails with nothing behind, and xarexec falls back to extraction leaving the mount root clean.
    /// Before, the empty directory and its lock stayed.
    /// </summary>
    [SkippableFact]
    public void AMountThatFailsLeavesNoDirectoryOrLockBehind()
    {
        Require();
        using var s = new LauncherSandbox();
        string xar = TestXar.Build(s.AppTree, s["app.xar"]);
        string tools = s["tools"]; // what the app needs, and no squashfuse
        Directory.CreateDirectory(tools);
        foreach (string tool in new[] { "cat", "dirname" })
            File.CreateSymbolicLink(Path.Combine(tools, tool), TestEnv.FindTool(tool)!);
        var noHelper = new Dictionary<string, string?> { ["XAR_FUSE"] = "squashfuse", ["PATH"] = tools };
        var environment = new Dictionary<string, string?>(s.Environment());
        foreach (var (k, v) in noHelper)
            environment[k] = v;
        var mount = TestEnv.Run(new RunOptions(XarBinary.Path, ["mount", xar]) { Environment = environment });
        Assert.Equal(1, mount.ExitCode);
        Assert.Contains("neither squashfuse_ll nor squashfuse is on PATH", mount.StandardError);
        string user = Path.Combine(s.MountRoot, $"uid-{Environment.GetEnvironmentVariable("SUDO_UID") ?? "0"}");
        Assert.Empty(Directory.GetFileSystemEntries(user));
        var run = s.Run(xar, ["x"], noHelper);
        LaunchAssert.Succeeded(run);
        Assert.Empty(Directory.GetFileSystemEntries(user));
        Assert.Empty(s.Mounts());
    }

    private static string? MountEntryField(string mountPoint, int field) =>
        File.ReadAllLines("/proc/self/mounts").Select(l => l.Split(' ')).FirstOrDefault(f => f.Length > 2 && f[1] == mountPoint)?[field];

    private static string? FileSystemType(string mountPoint) => MountEntryField(mountPoint, 2);

    private static string? MountSource(string mountPoint) => MountEntryField(mountPoint, 0);

    private static bool FuseConfAllowsOther() =>
        File.Exists("/etc/fuse.conf") && File.ReadAllLines("/etc/fuse.conf").Any(l => l.Trim() == "user_allow_other");

    [SkippableFact]
    public void AnIdleMountGoesAwayAndTheNextRunMountsAgain()
    {
        Require();
        using var s = new LauncherSandbox();
        string xar = TestXar.Build(s.AppTree, s["app.xar"]);
        var env = new Dictionary<string, string?> { ["XAR_MOUNT_TIMEOUT"] = "1" };
        LaunchAssert.Succeeded(s.Run(xar, [], env));
        var deadline = DateTime.UtcNow.AddSeconds(30);
        while (s.Mounts().Count > 0 && DateTime.UtcNow < deadline)
            Thread.Sleep(100);
        Assert.Empty(s.Mounts());
        var r = s.Run(xar, [], env);
        LaunchAssert.Succeeded(r);
        Assert.Contains("NEW_MOUNT=1\n", r.StandardOutput);
    }

    /// <summary>
    /// A mount root whose name is not UTF-8 (<c>mnt\xff</c>): the built-in server mounts on those very bytes (it
    /// used to get them decoded, mount nothing, and leave the launcher to extract), and its idle unmount finds them too.
    /// </summary>
    [SkippableFact]
    public void AMountRootWhoseNameIsNotUtf8IsMountedAndUnmountedByItsBytes()
    {
        Require();
        using var s = new LauncherSandbox();
        string xar = TestXar.Build(s.AppTree, s["app.xar"]);
        var env = s.Environment();
        env["XAR_MOUNT_ROOT"] = null;
        env["LAUNCHER"] = LauncherBinary.Path;
        env["XAR"] = xar;
        string script = """
            root=$(printf 'mnt\377')
            mkdir -m 1777 "$root" || exit 9
            XAR_MOUNT_ROOT="$PWD/$root" XAR_MOUNT_TIMEOUT=1 "$LAUNCHER" "$XAR" first
            echo "launcher: $?"
            echo "mounts: $(grep -c -a -F " $PWD/$root/uid-0/" /proc/mounts)"
            i=0
            while grep -q -a -F " $PWD/$root/uid-0/" /proc/mounts && [ $i -lt 300 ]; do sleep 0.1; i=$((i + 1)); done
            echo "after idle: $(grep -c -a -F " $PWD/$root/uid-0/" /proc/mounts)"
            """;
        var r = TestEnv.Run(new RunOptions("/bin/sh", ["-c", script]) { Environment = env, WorkingDirectory = s.Work });
        Assert.Equal("", r.StandardError); // no "cannot mount", no extraction
        Assert.StartsWith("[first]\n", r.StandardOutput);
        Assert.Contains("NEW_MOUNT=1\n", r.StandardOutput);
        Assert.Contains($"\nXAR_MOUNT={s.Work}/mnt\uFFFD/uid-0/", r.StandardOutput);
        Assert.Contains("\nlauncher: 0\nmounts: 1\n", r.StandardOutput);
        Assert.EndsWith("\nafter idle: 0\n", r.StandardOutput);
        Assert.False(Directory.Exists(s.CacheDir) && Directory.EnumerateFileSystemEntries(s.CacheDir).Any(), "extracted instead of mounted");
    }

    /// <summary>
    /// The process serving <paramref name="mountPoint"/> (its command line names it): squashfuse_ll, or
    /// the built-in server (xarexec --fuse-serve). Looked for again for a few seconds: once in CI, and
    /// once in about 400 runs here, a shell's pgrep found no squashfuse_ll for a mount that had just been made (cause not found).
    /// </summary>
    private static int FindServer(string mountPoint, string server)
    {
        var deadline = DateTime.UtcNow.AddSeconds(5);
        while (true)
        {
            foreach (string dir in Directory.GetDirectories("/proc"))
            {
                if (!int.TryParse(Path.GetFileName(dir), out int pid))
                    continue;
                try
                {
                    var argv = File.ReadAllText(Path.Combine(dir, "cmdline")).Split('\0');
                    bool isServer = server == "xar" ? argv.Length > 1 && argv[1] == "--fuse-serve" : argv[0].EndsWith("squashfuse_ll", StringComparison.Ordinal);
                    if (isServer && argv.Contains(mountPoint))
                        return pid;
                }
                catch (IOException)
                {
                }
            }
            if (DateTime.UtcNow > deadline)
                throw new Xunit.Sdk.XunitException($"no {server} server process for {mountPoint}");
            Thread.Sleep(50);
        }
    }

    [SkippableFact]
    public void PrintOnlyMountsNothingAndMountOnlyMountsAndPrints()
    {
        Require();
        using var s = new LauncherSandbox();
        string uuid = TestXar.NewUuid();
        string xar = TestXar.Build(s.AppTree, s["app.xar"], uuid);
        var printed = TestEnv.Run(new RunOptions(LauncherBinary.Path, ["-n", xar]) { Environment = s.Environment() });
        LaunchAssert.Succeeded(printed);
        string path = printed.StandardOutput.TrimEnd('\n');
        Assert.Empty(s.Mounts());
        Assert.StartsWith($"{s.MountRoot}/uid-0/{uuid}-seed-nspid", path);
        Assert.Matches(@"-seed-nspid\d+(_cgpid\d+)?-ns-\d+$", path);

        var mounted = TestEnv.Run(new RunOptions(LauncherBinary.Path, ["-m", xar]) { Environment = s.Environment() });
        LaunchAssert.Succeeded(mounted);
        Assert.Equal(path + "\n", mounted.StandardOutput);
        Assert.Equal(path, Assert.Single(s.Mounts()));
        Assert.Equal(TestXar.Payload, File.ReadAllText(Path.Combine(path, "data", "payload.txt")));

        var seeded = TestEnv.Run(new RunOptions(LauncherBinary.Path, ["-n", xar])
        { Environment = new Dictionary<string, string?>(s.Environment()) { ["XAR_MOUNT_SEED"] = "myseed" } });
        Assert.Matches($@"^{s.MountRoot}/uid-0/{uuid}-seed-myseed-ns-\d+\n$", seeded.StandardOutput);
    }

    [SkippableTheory]
    [InlineData(true)]
    [InlineData(false)]
    public void TheDefaultMountRootIsMntXarfuseElseDevShm(bool withMntXarfuse)
    {
        Require();
        TestEnv.RequireTool("unshare");
        using var s = new LauncherSandbox();
        string uuid = TestXar.NewUuid();
        string xar = TestXar.Build(s.AppTree, s["app.xar"], uuid);
        var env = s.Environment();
        env["XAR_MOUNT_ROOT"] = null;
        env["XAR_MOUNT_TIMEOUT"] = "2";
        // A private mount namespace with fresh /mnt and /dev/shm, so the real ones are never touched.
        string setup = "mount -t tmpfs -o mode=0755 tmpfs /mnt && mount -t tmpfs -o mode=1777 tmpfs /dev/shm && "
            + (withMntXarfuse ? "mkdir -m 1777 /mnt/xarfuse && " : "")
            + "\"$0\" \"$1\" && stat -L -c %i /proc/self/ns/mnt";
        var r = TestEnv.Run(new RunOptions("unshare", ["-m", "--propagation", "private", "/bin/sh", "-c", setup, LauncherBinary.Path, xar]) { Environment = env });
        LaunchAssert.Succeeded(r);
        string ns = r.StandardOutput.TrimEnd('\n').Split('\n')[^1];
        string root = withMntXarfuse ? "/mnt/xarfuse" : "/dev/shm";
        Assert.Matches($@"\nXAR_MOUNT={root}/uid-0/{uuid}-seed-nspid\d+(_cgpid\d+)?-ns-{ns}\n", r.StandardOutput);
        Assert.Empty(s.Mounts());
    }

    [SkippableFact]
    public void MountRootFromTheHeaderIsUsed()
    {
        Require();
        using var s = new LauncherSandbox();
        string root = s["header-root"];
        Directory.CreateDirectory(root);
        File.SetUnixFileMode(root, (UnixFileMode)0x3FF);
        string xar = TestXar.Build(s.AppTree, s["app.xar"], extra: [new("MOUNT_ROOT", root)]);
        var env = s.Environment();
        env["XAR_MOUNT_ROOT"] = null;
        var r = TestEnv.Run(new RunOptions(LauncherBinary.Path, [xar]) { Environment = env });
        LaunchAssert.Succeeded(r);
        Assert.StartsWith(root + "/uid-0/", Assert.Single(s.Mounts()));
    }

    [SkippableFact]
    public void AXarMadeTheWayMakeXarMakesOneRuns()
    {
        Require();
        using var s = new LauncherSandbox();
        string xar = TestXar.BuildLikeMakeXar(s.AppTree, s["fb.xar"], "d770950c");
        var r = s.Run(xar, ["a b"]);
        LaunchAssert.Succeeded(r);
        Assert.StartsWith("[a b]\n", r.StandardOutput);
        Assert.EndsWith(TestXar.Payload, r.StandardOutput);
    }

    [SkippableFact]
    public void ATargetMissingFromTheImageFailsAndLeavesNoMount()
    {
        Require();
        using var s = new LauncherSandbox();
        string xar = TestXar.Build(s.AppTree, s["app.xar"], execTarget: "no/such/file.sh");
        var r = s.Run(xar, []);
        string cause = LaunchAssert.OneLineFailure(r, xar);
        Assert.Contains("no/such/file.sh", cause);
        Assert.Contains("not in the image", cause);
        Assert.Empty(s.Mounts());
    }

    [SkippableFact]
    public void RunningTheFileItselfGoesThroughTheShebang()
    {
        Require();
        using var s = new LauncherSandbox();
        string xar = TestXar.Build(s.AppTree, s["app.xar"]);
        // #!/usr/bin/env xarexec_fuse: put a xarexec_fuse link first on PATH.
        string bin = s["bin"];
        Directory.CreateDirectory(bin);
        File.CreateSymbolicLink(Path.Combine(bin, "xarexec_fuse"), LauncherBinary.Path);
        var env = s.Environment();
        env["PATH"] = bin + ":" + Environment.GetEnvironmentVariable("PATH");
        var r = TestEnv.Run(new RunOptions(xar, ["x y"]) { Environment = env });
        LaunchAssert.Succeeded(r);
        Assert.StartsWith("[x y]\n", r.StandardOutput);
    }
}
