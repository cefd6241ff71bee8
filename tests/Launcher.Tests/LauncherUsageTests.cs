using Xar.Tests;

namespace Xar.Launcher.Tests;

public class LauncherUsageTests
{
    [Fact]
    public void HelpExitsZero() => Assert.Equal(0, Xar.Launcher.Program.Main(["-h"]));

    [Fact]
    public void NoArgumentsIsAUsageErrorWith127() => Assert.Equal(127, Xar.Launcher.Program.Main([]));

    [Fact]
    public void UnknownOptionIsAUsageErrorWith127() => Assert.Equal(127, Xar.Launcher.Program.Main(["-x", "file.xar"]));

    [Fact]
    public void PublishedBinaryPrintsHelp()
    {
        var r = TestEnv.Run(LauncherBinary.Path, "-h");
        Assert.Equal(0, r.ExitCode);
        Assert.Contains("usage: xarexec", r.StandardOutput);
    }

    [Fact]
    public void MissingFileIsOneLineAnd127()
    {
        using var sandbox = new LauncherSandbox();
        var r = sandbox.Run(sandbox["nope.xar"], []);
        Assert.Equal(127, r.ExitCode);
        Assert.Equal($"xarexec: {sandbox["nope.xar"]}: cannot open: No such file or directory\n", r.StandardError);
    }
}
