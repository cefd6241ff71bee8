using Xar.Tests;

namespace Xar.Packer.Tests;

/// <summary>`xar unmount FILE|DIR`: only XAR (FUSE) mounts.</summary>
[Collection(SandboxedXarCollection.Name)]
public class UnmountCommandTests
{
    [SkippableFact]
    public void UnmountRefusesWhatIsNotAXarMount()
    {
        SandboxedXar.RequireMounting();
        using var s = new LauncherSandbox();
        var r = SandboxedXar.Run(s, null, "unmount", s.Work);
        Assert.Equal(1, r.ExitCode);
        Assert.Contains("is not mounted", r.StandardError);
    }

    [SkippableFact]
    public void UnmountLeavesOtherMountsAlone()
    {
        using var s = new LauncherSandbox();
        var r = SandboxedXar.Run(s, null, "unmount", "/proc");
        Assert.Equal(1, r.ExitCode);
        Assert.Equal("xar: /proc: /proc is a proc mount, not a XAR (FUSE) mount\n", r.StandardError);
    }
}
