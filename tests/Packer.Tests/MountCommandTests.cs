using Xar.Tests;

namespace Xar.Packer.Tests;

/// <summary>`xar mount FILE`: mounts where xarexec would (the launcher then uses that mount) and prints the directory.</summary>
[Collection(SandboxedXar.Collection)]
public class MountCommandTests
{
    [SkippableFact]
    public void MountPrintsTheDirectoryAndUnmountTakesFileOrDirectory()
    {
        SandboxedXar.RequireMounting();
        using var s = new LauncherSandbox();
        string xar = TestXar.Build(s.AppTree, s["app.xar"]);
        var mounted = SandboxedXar.Run(s, null, "mount", xar);
        LaunchAssert.Succeeded(mounted);
        string dir = mounted.StandardOutput.TrimEnd('\n');
        Assert.Equal(dir, Assert.Single(s.Mounts()));
        Assert.Equal(TestXar.Payload, File.ReadAllText(Path.Combine(dir, "data", "payload.txt")));
        // The launcher uses the same mount.
        var run = s.Run(xar, []);
        Assert.Contains("NEW_MOUNT=\n", run.StandardOutput);

        LaunchAssert.Succeeded(SandboxedXar.Run(s, null, "unmount", xar));
        Assert.Empty(s.Mounts());
        Assert.False(Directory.Exists(dir));
        var notMounted = SandboxedXar.Run(s, null, "unmount", xar);
        Assert.Equal(1, notMounted.ExitCode);
        Assert.Equal($"xar: {xar}: {dir} is not mounted\n", notMounted.StandardError);

        string again = SandboxedXar.Run(s, null, "mount", xar).StandardOutput.TrimEnd('\n');
        LaunchAssert.Succeeded(SandboxedXar.Run(s, null, "unmount", again));
        Assert.Empty(s.Mounts());
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
}
