using Xar.SquashFs.Extraction;
using Xunit;
using Xar.Posix;

namespace Xar.SquashFs.Tests;

public sealed class NativePathTests
{
    [Theory]
    [InlineData("", "a", "a")]
    [InlineData("d", "a", "d/a")]
    [InlineData("d/e", "name with space", "d/e/name with space")]
    [InlineData("/", "etc", "/etc")]
    [InlineData("/src", "f", "/src/f")]
    [InlineData("/", "", "/")]
    public void JoinPutsOneSlashBetweenDirectoryAndName(string dir, string name, string expected) =>
        Assert.Equal(expected, System.Text.Encoding.UTF8.GetString(NativePath.Join(System.Text.Encoding.UTF8.GetBytes(dir), System.Text.Encoding.UTF8.GetBytes(name))));

    [Fact]
    public void JoinKeepsBytesThatAreNotUtf8()
    {
        byte[] dir = [0x64, 0xff];
        byte[] name = [0xfe, 0x41, 0x80];
        Assert.Equal(new byte[] { 0x64, 0xff, (byte)'/', 0xfe, 0x41, 0x80 }, NativePath.Join(dir, name));
        var copy = NativePath.Join([], name);
        Assert.Equal(name, copy);
        Assert.NotSame(name, copy);
    }
}
