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
        var r = s.Run(xar, ["x"], env);
        LaunchAssert.Succeeded(r);
        Assert.StartsWith("[x]\n", r.StandardOutput);
        Assert.Equal($"xarexec: {xar}: squashfuse_ll exited with status 1: fuse: device not found, try modprobe fuse first: extracted once into {Path.Combine(s.CacheDir, uuid)}\n", r.StandardError);
        Assert.Empty(s.Mounts());
        var again = s.Run(xar, ["y"], env);
        LaunchAssert.Succeeded(again);
        Assert.Equal("", again.StandardError);
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
