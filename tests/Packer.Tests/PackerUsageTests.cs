namespace Xar.Packer.Tests;

public class PackerUsageTests
{
    [Fact]
    public void HelpExitsZero() => Assert.Equal(0, Xar.Packer.Program.Main(["--help"]));
}
