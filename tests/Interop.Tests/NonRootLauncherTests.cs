using Xar.Tests;

namespace Xar.Interop.Tests;

/// <summary>Tests that change machine-wide state for a moment (/dev/fuse's mode, binfmt_misc): one at a time.</summary>
[CollectionDefinition("machine-wide", DisableParallelization = true)]
public sealed class MachineWideCollection;

/// <summary>
/// Most users are not root and most desktops have /dev/fuse mode 0666: the launcher must mount
/// there (not fall back to extraction), share the mount, unmount with fusermount3, and recover a
/// mount whose squashfuse was killed. Runs as nobody, with /dev/fuse made 0666 for the test.
/// </summary>
[Collection("machine-wide")]
[System.Runtime.Versioning.SupportedOSPlatform("linux")]
public class NonRootLauncherTests
{
    private const string Nobody = "65534";

    /// <summary>Through fusermount3, with the built-in server (the default) and with squashfuse.</summary>
    [SkippableTheory]
    [InlineData("xar")]
    [InlineData("squashfuse")]
    public void NobodyMountsSharesUnmountsAndRecovers(string server)
    {
        using var world = new NobodysWorld();
        world.Environment["XAR_FUSE"] = server == "xar" ? null : server;
        string xar = world.Xar;
        var first = world.AsNobody(xar, "a b");
        Assert.True(first.ExitCode == 0, first.StandardError);
        Assert.Equal($"uid={Nobody} new=1 args=a b\n", first.StandardOutput);
        Assert.Equal("", first.StandardError); // mounted: no word of extraction
        var printed = world.AsNobody(world.Program("xarexec"), "-m", xar);
        Assert.True(printed.ExitCode == 0, printed.StandardError);
        string mount = printed.StandardOutput.Trim();
        Assert.StartsWith(Path.Combine(world.MountRoot, "uid-" + Nobody) + "/", mount);
        Assert.Contains(MountLine(mount), l => l.Contains("user_id=" + Nobody)
            && l.Contains(server == "xar" ? " - fuse.xar " : " - fuse.squashfuse_ll "));

        var second = world.AsNobody(xar, "c");
        Assert.True(second.ExitCode == 0, second.StandardError);
        Assert.Equal($"uid={Nobody} new=0 args=c\n", second.StandardOutput);

        // The server killed: the mount is broken (ENOTCONN); the next start unmounts it
        // through fusermount3 and mounts again.
        string pattern = (server == "xar" ? "--fuse-serve.*" : "squashfuse_ll.*") + mount;
        TestEnv.Run("pkill", "-KILL", "-f", "-u", Nobody, "--", pattern).EnsureSuccess("pkill " + server);
        var recovered = world.AsNobody(xar, "d");
        Assert.True(recovered.ExitCode == 0, recovered.StandardError);
        Assert.Equal($"uid={Nobody} new=1 args=d\n", recovered.StandardOutput);
        Assert.Single(MountLine(mount));

        var unmount = world.AsNobody(world.Program("xar"), "unmount", xar);
        Assert.True(unmount.ExitCode == 0, unmount.StandardError);
        Assert.Empty(MountLine(mount));
        Assert.False(Directory.Exists(Path.Combine(world.Temp["home"], ".cache", "xar")), "the extraction fallback was not used");
    }

    /// <summary>
    /// Not root, the server starts fusermount3 before the .NET runtime starts (its pre-runtime step), so the two run
    /// side by side: in the trace, fusermount3 is executed before the server's first thread (the runtime's) exists.
    /// </summary>
    [SkippableFact]
    public void NobodysServerStartsFusermountBeforeTheRuntime()
    {
        using var world = new NobodysWorld();
        string log = world.Temp["trace.log"];
        // XAR_MOUNT_TIMEOUT=1: the traced server unmounts itself and exits, and strace with it.
        var run = world.TracedAsNobody(log, "execve,clone,clone3", ["XAR_MOUNT_TIMEOUT=1"], world.Xar, "a");
        Assert.True(run.ExitCode == 0, run.StandardError);
        Assert.Equal($"uid={Nobody} new=1 args=a\n", run.StandardOutput);
        string[] trace = File.ReadAllLines(log);
        int fusermount = Array.FindIndex(trace, l => l.Contains("execve(\"") && l.Contains("fusermount3\", [\"") && l.Contains("\"-o\""));
        int firstThread = Array.FindIndex(trace, l => l.Contains("CLONE_THREAD"));
        Assert.True(fusermount >= 0, "fusermount3 did not mount:\n" + string.Join('\n', trace));
        Assert.True(firstThread > fusermount, "a thread was started before fusermount3:\n" + string.Join('\n', trace));
    }

    /// <summary>
    /// That mount is made before the image is checked: an image that fails the check is unmounted again before the
    /// server answers, and the launcher says what is wrong, as before. Nothing stays mounted, no server stays.
    /// </summary>
    [SkippableFact]
    public void NobodysLaunchOfABrokenImageLeavesNoMountBehind()
    {
        using var world = new NobodysWorld();
        string broken = world.Temp["broken.xar"];
        byte[] bytes = File.ReadAllBytes(world.Xar);
        bytes[4096 + 20] = 99; // the superblock's compressor id (the header ends at OFFSET 4096)
        File.WriteAllBytes(broken, bytes);
        File.SetUnixFileMode(broken, (UnixFileMode)0x1ED);
        string log = world.Temp["trace.log"];
        var run = world.TracedAsNobody(log, "execve", [], broken, "a");
        Assert.Equal(127, run.ExitCode);
        Assert.Equal("", run.StandardOutput);
        Assert.Contains("unknown compressor id 99", run.StandardError);
        string[] trace = File.ReadAllLines(log);
        Assert.Contains(trace, l => l.Contains("fusermount3\", [\"") && l.Contains("\"-o\"")); // it was mounted,
        Assert.Contains(trace, l => l.Contains("fusermount3\", [\"") && l.Contains("\"-u\"")); // and unmounted again
        Assert.DoesNotContain(File.ReadAllLines("/proc/self/mountinfo"), l => l.Split(' ')[4].StartsWith(world.MountRoot + "/", StringComparison.Ordinal));
        Assert.False(TestEnv.Run("pgrep", "-u", Nobody, "-f", "--", "--fuse-serve.*" + world.MountRoot).ExitCode == 0, "a server is still running");
    }

    /// <summary>A XAR nobody may run, its own mount root and home, the published programs, and /dev/fuse 0666 until disposed.</summary>
    private sealed class NobodysWorld : IDisposable
    {
        private readonly string _fuseMode;

        public NobodysWorld()
        {
            TestEnv.RequireRoot();
            TestEnv.RequireFuse();
            foreach (var tool in new[] { "setpriv", "fusermount3", "pgrep", "pkill", "strace" })
                TestEnv.RequireTool(tool);
            Temp = new TempDir("nonroot");
            TestEnv.Run("chmod", "0755", Temp.Path).EnsureSuccess("chmod");
            string programs = Temp["bin"];
            string xarProgram = TestEnv.PublishedProgramForAnyUser("xar", programs);
            TestEnv.PublishedProgramForAnyUser("xarexec", programs);
            File.CreateSymbolicLink(Path.Combine(programs, "xarexec_fuse"), "xarexec");
            string tree = Temp["tree"];
            Directory.CreateDirectory(tree);
            File.WriteAllText(Path.Combine(tree, "run"), "#!/bin/sh\necho \"uid=$(id -u) new=${XARFUSE_NEW_MOUNT:-0} args=$*\"\n");
            File.SetUnixFileMode(Path.Combine(tree, "run"), (UnixFileMode)0x1ED);
            TestEnv.Run(xarProgram, "pack", tree, "-o", Xar, "--exec", "run", "--quiet").EnsureSuccess("xar pack");
            Directory.CreateDirectory(MountRoot);
            File.SetUnixFileMode(MountRoot, (UnixFileMode)Convert.ToInt32("1777", 8));
            Directory.CreateDirectory(Temp["home"]);
            TestEnv.Run("chown", Nobody, Temp["home"]).EnsureSuccess("chown");
            Environment = new Dictionary<string, string?>
            {
                ["HOME"] = Temp["home"],
                ["XAR_MOUNT_ROOT"] = MountRoot,
                ["XAR_CACHE_DIR"] = null,
                ["XDG_CACHE_HOME"] = null,
                ["XAR_EXTRACT"] = null,
                ["XAR_FUSE"] = null,
                ["PATH"] = programs + ":/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
            };
            _fuseMode = TestEnv.Run("stat", "-c", "%a", "/dev/fuse").EnsureSuccess("stat").StandardOutput.Trim();
            TestEnv.Run("chmod", "0666", "/dev/fuse").EnsureSuccess("chmod /dev/fuse");
        }

        public TempDir Temp { get; }
        public string Xar => Temp["app.xar"];
        public string MountRoot => Temp["mnt"];
        public Dictionary<string, string?> Environment { get; }

        /// <summary>The published program <paramref name="name"/> (xar, xarexec) as nobody can run it.</summary>
        public string Program(string name) => Path.Combine(Temp["bin"], name);

        /// <summary>Runs <paramref name="command"/> as nobody with <see cref="Environment"/>.</summary>
        public ProcessResult AsNobody(params string[] command) =>
            TestEnv.Run(new RunOptions("setpriv", ["--reuid=" + Nobody, "--regid=" + Nobody, "--clear-groups", .. command]) { Environment = Environment, TimeoutMs = 60_000 });

        /// <summary>
        /// Runs <paramref name="command"/> as nobody (after <c>env ASSIGNMENTS</c>), traced by <c>strace -f -o LOG -e
        /// trace=SYSCALLS</c>; the tracer stays root, so fusermount3 keeps its setuid.
        /// </summary>
        public ProcessResult TracedAsNobody(string log, string syscalls, string[] assignments, params string[] command) =>
            TestEnv.Run(new RunOptions("strace", ["-f", "-o", log, "-e", "trace=" + syscalls,
                "setpriv", "--reuid=" + Nobody, "--regid=" + Nobody, "--clear-groups", "env", .. assignments, .. command])
            { Environment = Environment, TimeoutMs = 60_000 });

        public void Dispose()
        {
            TestEnv.Run("chmod", _fuseMode, "/dev/fuse");
            foreach (string line in File.ReadAllLines("/proc/self/mountinfo"))
                if (line.Split(' ')[4].StartsWith(MountRoot + "/", StringComparison.Ordinal))
                    TestEnv.Run("umount", "-l", line.Split(' ')[4]);
            Temp.Dispose();
        }
    }

    private static List<string> MountLine(string mount) =>
        File.ReadAllLines("/proc/self/mountinfo").Where(l => l.Split(' ')[4] == mount).ToList();
}
