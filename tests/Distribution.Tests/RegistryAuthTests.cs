using Xar.Tests;

namespace Xar.Distribution.Tests;

/// <summary>Basic authentication against the real registry (htpasswd, bcrypt), with credentials from docker's config.json.</summary>
public sealed class RegistryAuthTests
{
    [SkippableFact]
    public void PushAndPullWithCredentialsFromDockerConfig()
    {
        using var registry = TestRegistry.WithBasicAuth();
        using var cli = new RegistryCli();
        cli.SaveCredentials(registry.Address, TestRegistry.User, TestRegistry.Password);
        string xar = cli.MakeXar("app.xar", 50_000);
        var push = cli.Run("push", xar, registry.Address + "/apps/tool:1", "--plain-http", "-v");
        push.EnsureSuccess("push");
        RegistryErrorTests.AssertNoSecret(push);
        var pull = cli.Run("pull", registry.Address + "/apps/tool:1", "-o", cli["out"], "--plain-http", "-v");
        pull.EnsureSuccess("pull");
        RegistryErrorTests.AssertNoSecret(pull);
        Assert.Equal(File.ReadAllBytes(xar), File.ReadAllBytes(cli["out"]));
    }

    [SkippableFact]
    public void NoCredentialsIsOneLineAndExitOne()
    {
        using var registry = TestRegistry.WithBasicAuth();
        using var cli = new RegistryCli();
        string xar = cli.MakeXar("app.xar", 1000);
        RegistryCli.AssertFailure(cli.Run("push", xar, registry.Address + "/apps/tool:1", "--plain-http"), 1, "no credentials");
        RegistryCli.AssertFailure(cli.Run("pull", registry.Address + "/apps/tool:1", "-o", cli["out"], "--plain-http"), 1, "no credentials");
        Assert.False(File.Exists(cli["out"]));
    }

    [SkippableFact]
    public void WrongPasswordFailsWithoutPrintingIt()
    {
        using var registry = TestRegistry.WithBasicAuth();
        using var cli = new RegistryCli();
        const string wrong = "Wrong-e9b1d0-never-printed";
        cli.SaveCredentials(registry.Address, TestRegistry.User, wrong);
        string xar = cli.MakeXar("app.xar", 1000);
        foreach (var r in new[]
        {
            cli.Run("push", xar, registry.Address + "/apps/tool:1", "--plain-http", "-v"),
            cli.Run("pull", registry.Address + "/apps/tool:1", "-o", cli["out"], "--plain-http", "-v"),
        })
        {
            Assert.Equal(1, r.ExitCode);
            Assert.EndsWith("authentication failed: the registry refused the credentials", r.StandardError.TrimEnd('\n'));
            Assert.DoesNotContain(wrong, r.StandardOutput + r.StandardError);
            Assert.DoesNotContain(Convert.ToBase64String(System.Text.Encoding.UTF8.GetBytes(TestRegistry.User + ":" + wrong)), r.StandardOutput + r.StandardError);
        }
        Assert.False(File.Exists(cli["out"]));
    }
}
