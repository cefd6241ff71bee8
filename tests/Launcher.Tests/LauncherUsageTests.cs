using Xar.Tests;

namespace Xar.Launcher.Tests;

public class LauncherUsageTests
{
    [Fact]
    public void HelpExitsZero() => Assert.Equal(0, Xar.Launcher.Program.Main(["-h"]));
}
