namespace Xar.Distribution.Tests;

public sealed class ImageReferenceTests
{
    [Theory]
    [InlineData("127.0.0.1:5000/apps/tool", "127.0.0.1:5000", "apps/tool", null, null, "latest")]
    [InlineData("localhost:5000/tool:1.0", "localhost:5000", "tool", "1.0", null, "1.0")]
    [InlineData("reg.internal/a/b/c:v_2", "reg.internal", "a/b/c", "v_2", null, "v_2")]
    [InlineData("[::1]:5000/x-y.z__w:t", "[::1]:5000", "x-y.z__w", "t", null, "t")]
    [InlineData("h:1/r@sha256:0000000000000000000000000000000000000000000000000000000000000000", "h:1", "r", null,
        "sha256:0000000000000000000000000000000000000000000000000000000000000000", "sha256:0000000000000000000000000000000000000000000000000000000000000000")]
    public void Parses(string text, string registry, string repository, string? tag, string? digest, string manifestReference)
    {
        var r = ImageReference.Parse(text);
        Assert.Equal(registry, r.Registry);
        Assert.Equal(repository, r.Repository);
        Assert.Equal(tag, r.Tag);
        Assert.Equal(digest, r.Digest);
        Assert.Equal(manifestReference, r.ManifestReference);
        Assert.Equal(text, r.ToString());
    }

    [Theory]
    [InlineData("tool")]                          // no registry
    [InlineData("/tool")]
    [InlineData("reg:5000/")]                     // no repository
    [InlineData("reg:5000/Apps")]                 // upper case
    [InlineData("reg:5000/a//b")]
    [InlineData("reg:5000/a:-x")]                 // tag starting with '-'
    [InlineData("reg:99999/a")]                   // port out of range
    [InlineData("reg:5000/a@sha256:abc")]         // short digest
    [InlineData("reg:5000/a@sha512:0000")]        // other algorithm
    [InlineData("reg:5000/a@sha256:../../../../etc/passwd0000000000000000000000000000000000000")]
    [InlineData("us er@reg/a")]
    public void RefusesAsBadInput(string text)
    {
        var e = Assert.Throws<RegistryException>(() => ImageReference.Parse(text));
        Assert.True(e.BadInput);
    }
}
