namespace Xar.Distribution.Tests;

/// <summary>
/// The bearer-token challenge, against <see cref="FakeTokenRegistry"/> on loopback (Debian's docker-registry checks
/// tokens only with certificates; its Basic authentication is tested against the real thing in RegistryAuthTests).
/// </summary>
public sealed class BearerTokenTests
{
    [Fact]
    public void PullGetsATokenFromTheRealmWithBasicCredentials()
    {
        using var cli = new RegistryCli();
        string xar = cli.MakeXar("app.xar", 20_000);
        using var fake = new FakeTokenRegistry(File.ReadAllBytes(xar));
        cli.SaveCredentials(fake.Address, TestRegistry.User, TestRegistry.Password);
        var r = cli.Run("pull", fake.Address + "/apps/tool:1", "-o", cli["out"], "--plain-http", "-v");
        r.EnsureSuccess("pull");
        Assert.Equal(File.ReadAllBytes(xar), File.ReadAllBytes(cli["out"]));
        string query = Assert.Single(fake.TokenQueries);
        Assert.Contains("service=fake-registry", query);
        Assert.Contains("scope=" + Uri.EscapeDataString("repository:apps/tool:pull"), query);
        Assert.DoesNotContain(FakeTokenRegistry.Token, r.StandardOutput + r.StandardError);
        RegistryErrorTests.AssertNoSecret(r);
        // Every request after the token carried it.
        Assert.All(fake.Requests.SkipWhile(l => !l.Contains("Bearer", StringComparison.Ordinal)), l => Assert.EndsWith("Bearer " + FakeTokenRegistry.Token, l));
    }

    [Fact]
    public void RefusedCredentialsAtTheTokenServerExitOne()
    {
        using var cli = new RegistryCli();
        string xar = cli.MakeXar("app.xar", 1000);
        using var fake = new FakeTokenRegistry(File.ReadAllBytes(xar));
        cli.SaveCredentials(fake.Address, TestRegistry.User, "Wrong-5a0c-never-printed");
        var r = cli.Run("pull", fake.Address + "/apps/tool:1", "-o", cli["out"], "--plain-http", "-v");
        Assert.Equal(1, r.ExitCode);
        Assert.Contains("authentication failed: the token server refused the credentials", r.StandardError.TrimEnd('\n').Split('\n')[^1]);
        Assert.DoesNotContain("Wrong-5a0c-never-printed", r.StandardOutput + r.StandardError);
        Assert.False(File.Exists(cli["out"]));
    }

    [Fact]
    public void NoCredentialsAndATokenServerThatWantsThemExitOne()
    {
        using var cli = new RegistryCli();
        string xar = cli.MakeXar("app.xar", 1000);
        using var fake = new FakeTokenRegistry(File.ReadAllBytes(xar));
        var r = cli.Run("pull", fake.Address + "/apps/tool:1", "-o", cli["out"], "--plain-http");
        RegistryCli.AssertFailure(r, 1, "no credentials");
    }
}
