using Xar.Runtime;

namespace Xar.Runtime.Tests;

/// <summary>The mount directory names gc and unmount rely on (the same names Facebook's launcher and cleaner use).</summary>
public class XarMountLayoutTests
{
    [Theory]
    [InlineData("8f583eae-ns-4026531840", "8f583eae")]
    [InlineData("8f583eae-seed-test-ns-4026531840", "8f583eae")]
    [InlineData("8f583eae-seed-test-foo-bar-ns-4026531840", "8f583eae")]
    [InlineData("0f3a9c1d2b4e5f60-seed-nspid4026531836_cgpid1-ns-4026531832", "0f3a9c1d2b4e5f60")]
    [InlineData("continuous_www_scripts9999", null)]
    [InlineData("8f583eae", null)]
    [InlineData("8f583eae-ns-", null)]
    [InlineData("8f583eae-ns-12x", null)]
    [InlineData("8f583eae-other-ns-1", null)]
    [InlineData("zz-ns-1", null)]
    [InlineData("lockfile.8f583eae-ns-1", null)]
    public void MountDirectoryNamesAreRecognised(string name, string? uuid) =>
        Assert.Equal(uuid, XarMountLayout.TryParseDirectoryName(name));

    [Fact]
    public void DirectoryNamesCarryTheSeedAndTheNamespace()
    {
        string withSeed = XarMountLayout.DirectoryName("abc", "myseed");
        Assert.Matches(@"^abc-seed-myseed-ns-\d+$", withSeed);
        // A seed with a slash would escape the user directory: ignored, as Facebook's launcher does.
        Assert.Matches(@"^abc-seed-nspid\d+(_cgpid\d+)?-ns-\d+$", XarMountLayout.DirectoryName("abc", "../x"));
        Assert.Matches(@"^abc-seed-nspid\d+(_cgpid\d+)?-ns-\d+$", XarMountLayout.DirectoryName("abc", null));
        Assert.Equal("abc", XarMountLayout.TryParseDirectoryName(withSeed));
    }
}
