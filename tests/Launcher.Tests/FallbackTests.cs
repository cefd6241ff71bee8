using Xar.Tests;

namespace Xar.Launcher.Tests;

/// <summary>When a mount is attempted but fails, the launcher extracts instead and says why, once.</summary>
public class FallbackTests
{
    [SkippableFact]
    public void AFailingSquashfuseFallsBackToExtraction()
    {
        TestEnv.RequireTool("mksquashfs");
        TestEnv.Require(File.Exists("/dev/fuse"), "needs /dev/fuse");
        using var s = new LauncherSandbox();
        string uuid = TestXar.NewUuid();
        string xar = TestXar.Build(s.AppTree, s["app.xar"], uuid);
        // A squashfuse_ll that refuses, first on PATH.
        string bin = s["fake-bin"];
        Directory.CreateDirectory(bin);
        TestXar.WriteExecutable(Path.Combine(bin, "squashfuse_ll"), "#!/bin/sh\necho 'fuse: device not found, try modprobe fuse first' >&2\nexit 1\n");
        var env = s.Environment();
        env["PATH"] = bin + ":" + Environment.GetEnvironmentVariable("PATH");
        env["XAR_FUSE"] = "squashfuse";
        var r = s.Run(xar, ["x"], env);
        LaunchAssert.Succeeded(r);
        Assert.StartsWith("[x]\n", r.StandardOutput);
        Assert.Equal($"xarexec: {xar}: squashfuse_ll exited with status 1: fuse: device not found, try modprobe fuse first: extracted once into {Path.Combine(s.CacheDir, uuid)}\n", r.StandardError);
        Assert.Empty(s.Mounts());
        var again = s.Run(xar, ["y"], env);
        LaunchAssert.Succeeded(again);
        Assert.Equal("", again.StandardError);
    }

    /// <summary>
    /// The built-in server cannot mount (here: /dev/fuse is /dev/null, bound over it in a mount namespace of the
    /// test's own, so mount(2) refuses the descriptor): the launcher says the server's cause and extracts, once.
    /// </summary>
    [SkippableFact]
    public void AFailingBuiltInServerFallsBackToExtraction()
    {
        TestEnv.RequireTool("mksquashfs");
        TestEnv.RequireTool("unshare");
        TestEnv.RequireRoot();
        TestEnv.Require(File.Exists("/dev/fuse"), "needs /dev/fuse");
        using var s = new LauncherSandbox();
        string uuid = TestXar.NewUuid();
        string xar = TestXar.Build(s.AppTree, s["app.xar"], uuid);
        var env = s.Environment();
        env["LAUNCHER"] = LauncherBinary.Path;
        env["XAR"] = xar;
        var r = TestEnv.Run(new RunOptions("unshare", ["-m", "--propagation", "private", "/bin/sh", "-c",
            "mount --bind /dev/null /dev/fuse && \"$LAUNCHER\" \"$XAR\" x && \"$LAUNCHER\" \"$XAR\" y"]) { Environment = env });
        LaunchAssert.Succeeded(r);
        Assert.StartsWith("[x]\n", r.StandardOutput);
        Assert.Contains("[y]\n", r.StandardOutput);
        Assert.Matches($"^xarexec: {System.Text.RegularExpressions.Regex.Escape(xar)}: the FUSE server cannot mount: [^\n]+: extracted once into {System.Text.RegularExpressions.Regex.Escape(Path.Combine(s.CacheDir, uuid))}\n$", r.StandardError);
        Assert.Empty(s.Mounts());
    }

    /// <summary>
    /// A squashfuse_ll that exits 0 but never mounts: the launcher waits for the mount once (9 s), then
    /// extracts and says why. The fast start, which made that wait, tells Main so, instead of Main
    /// spawning squashfuse and waiting again; the program never sees how it was told.
    /// </summary>
    [SkippableFact]
    public void AMountThatNeverAppearsIsWaitedForOnceThenExtracted()
    {
        TestEnv.RequireTool("mksquashfs");
        TestEnv.Require(File.Exists("/dev/fuse"), "needs /dev/fuse");
        using var s = new LauncherSandbox();
        string tree = s["tree"];
        Directory.CreateDirectory(tree);
        TestXar.WriteExecutable(Path.Combine(tree, TestXar.BootstrapName), TestXar.Bootstrap("report"));
        TestXar.WriteExecutable(Path.Combine(tree, "report"), "#!/bin/sh\necho \"args=$*\"\nenv | grep '^XAREXEC' || echo 'no XAREXEC variable'\n");
        string uuid = TestXar.NewUuid();
        string xar = TestXar.Build(tree, s["app.xar"], uuid);
        string bin = s["fake-bin"];
        Directory.CreateDirectory(bin);
        TestXar.WriteExecutable(Path.Combine(bin, "squashfuse_ll"), "#!/bin/sh\necho spawned >>\"$SPAWN_LOG\"\nexit 0\n");
        var env = s.Environment();
        env["PATH"] = bin + ":" + Environment.GetEnvironmentVariable("PATH");
        env["SPAWN_LOG"] = s["spawns.log"];
        env["XAR_FUSE"] = "squashfuse";
        var r = s.Run(xar, ["x"], env);
        LaunchAssert.Succeeded(r);
        Assert.Equal("args=x\nno XAREXEC variable\n", r.StandardOutput);
        Assert.Equal($"xarexec: {xar}: the squashfuse_ll mount did not appear within 9 s: extracted once into {Path.Combine(s.CacheDir, uuid)}\n", r.StandardError);
        Assert.Equal(["spawned"], File.ReadAllLines(s["spawns.log"]));
        Assert.Empty(s.Mounts());
    }

    /// <summary>The variable by which the fast start tells Main that a mount did not appear counts only when set in the same process.</summary>
    [SkippableFact]
    public void TheMountDidNotAppearVariableFromOutsideChangesNothing()
    {
        TestEnv.RequireTool("mksquashfs");
        TestEnv.RequireFuse();
        using var s = new LauncherSandbox();
        string tree = s["tree"];
        Directory.CreateDirectory(tree);
        TestXar.WriteExecutable(Path.Combine(tree, TestXar.BootstrapName), TestXar.Bootstrap("report"));
        TestXar.WriteExecutable(Path.Combine(tree, "report"), "#!/bin/sh\nenv | grep '^XAREXEC' || echo 'no XAREXEC variable'\n");
        string xar = TestXar.Build(tree, s["app.xar"]);
        var env = s.Environment();
        env["XAREXEC_MOUNT_DID_NOT_APPEAR"] = "squashfuse_ll 1";
        var mountOnly = TestEnv.Run(new RunOptions(LauncherBinary.Path, ["-m", xar]) { Environment = env, WorkingDirectory = s.Work });
        LaunchAssert.Succeeded(mountOnly);
        Assert.Equal("", mountOnly.StandardError);
        Assert.Equal(Assert.Single(s.Mounts()), mountOnly.StandardOutput.Trim()); // Main mounted: no extraction
        foreach (bool extract in (bool[])[false, true, true])
        {
            var r = s.Run(xar, [], env, extract: extract); // through the fast start, then Main, then the fast start
            LaunchAssert.Succeeded(r);
            Assert.Equal("no XAREXEC variable\n", r.StandardOutput);
        }
    }

    [SkippableFact]
    public void NoMountRootFallsBackToExtraction()
    {
        TestEnv.RequireTool("mksquashfs");
        TestEnv.RequireRoot();
        TestEnv.RequireTool("unshare");
        using var s = new LauncherSandbox();
        string uuid = TestXar.NewUuid();
        string xar = TestXar.Build(s.AppTree, s["app.xar"], uuid);
        var env = s.Environment();
        env["XAR_MOUNT_ROOT"] = null;
        // In a private mount namespace, hide both default roots behind 0755 directories.
        string script = "mount -t tmpfs -o mode=0755 tmpfs /dev/shm && mount -t tmpfs -o mode=0755 tmpfs /mnt && exec \"$0\" \"$1\" z";
        var r = TestEnv.Run(new RunOptions("unshare", ["-m", "--propagation", "private", "/bin/sh", "-c", script, LauncherBinary.Path, xar]) { Environment = env });
        LaunchAssert.Succeeded(r);
        Assert.StartsWith("[z]\n", r.StandardOutput);
        Assert.StartsWith($"xarexec: {xar}: no mount root: neither /mnt/xarfuse nor /dev/shm is a directory with mode 1777", r.StandardError);
        Assert.EndsWith($"extracted once into {Path.Combine(s.CacheDir, uuid)}\n", r.StandardError);
    }
}
