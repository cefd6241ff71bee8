namespace Xar.Distribution.Tests;

public sealed class AuthChallengeTests
{
    [Fact]
    public void BearerWithQuotedParameters()
    {
        var c = AuthChallenge.Parse("Bearer realm=\"https://auth.example/token\",service=\"registry.example\",scope=\"repository:a/b:pull,push\"")!;
        Assert.True(c.IsBearer);
        Assert.Equal("https://auth.example/token", c["realm"]);
        Assert.Equal("registry.example", c["service"]);
        Assert.Equal("repository:a/b:pull,push", c["scope"]);
    }

    [Fact]
    public void BasicWithUnquotedRealm()
    {
        var c = AuthChallenge.Parse("Basic realm=xar-test")!;
        Assert.True(c.IsBasic);
        Assert.Equal("xar-test", c["realm"]);
        Assert.Null(c["scope"]);
    }

    [Fact]
    public void EscapedQuoteInValue()
    {
        var c = AuthChallenge.Parse("Bearer realm=\"a\\\"b\", error=\"invalid_token\"")!;
        Assert.Equal("a\"b", c["realm"]);
        Assert.Equal("invalid_token", c["error"]);
    }
}
