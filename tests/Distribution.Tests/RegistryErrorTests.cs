using Xar.Tests;

namespace Xar.Distribution.Tests;

/// <summary>What push and pull say, and their exit status, when the input, the registry or the network is wrong.</summary>
public sealed class RegistryErrorTests
{
    [Theory]
    [InlineData("pull", "tool:1")]
    [InlineData("pull", "127.0.0.1:5000/Bad/Name")]
    [InlineData("pull", "127.0.0.1:5000/a@sha256:1234")]
    [InlineData("push", "127.0.0.1:5000/a@sha256:0000000000000000000000000000000000000000000000000000000000000000")]
    [InlineData("push", "127.0.0.1:5000/a:-bad")]
    public void BadReferencesExitTwo(string command, string reference)
    {
        using var cli = new RegistryCli();
        string xar = cli.MakeXar("app.xar", 100);
        var r = command == "push" ? cli.Run("push", xar, reference, "--plain-http") : cli.Run("pull", reference, "-o", cli["out"], "--plain-http");
        RegistryCli.AssertFailure(r, 2);
        Assert.False(File.Exists(cli["out"]));
    }

    [Fact]
    public void PushOfAFileThatIsNoImageExitsTwo()
    {
        using var cli = new RegistryCli();
        File.WriteAllText(cli["notes.txt"], "just text\n");
        RegistryCli.AssertFailure(cli.Run("push", cli["notes.txt"], "127.0.0.1:1/a:1", "--plain-http"), 2);
        RegistryCli.AssertFailure(cli.Run("push", cli["missing.xar"], "127.0.0.1:1/a:1", "--plain-http"), 2, "no such file");
        RegistryCli.AssertFailure(cli.Run("push", cli["."], "127.0.0.1:1/a:1", "--plain-http"), 2, "is a directory");
    }

    [Theory]
    [InlineData("0")]
    [InlineData("4097")]
    [InlineData("12x")]
    public void ABadChunkSizeExitsTwo(string value)
    {
        using var cli = new RegistryCli();
        string xar = cli.MakeXar("app.xar", 100);
        cli.ExtraEnvironment["XAR_PUSH_CHUNK_MIB"] = value;
        RegistryCli.AssertFailure(cli.Run("push", xar, "127.0.0.1:1/a:1", "--plain-http"), 2, "XAR_PUSH_CHUNK_MIB");
    }

    [Fact]
    public void PlainHttpIsRefusedForARegistryNotOnLoopbackNorListed()
    {
        using var cli = new RegistryCli();
        var r = cli.Run("pull", "192.0.2.1:5000/apps/tool:1", "-o", cli["out"], "--plain-http");
        RegistryCli.AssertFailure(r, 2, "XAR_PLAIN_HTTP_REGISTRIES");
    }

    [Fact]
    public void UnreachableRegistryExitsOneAndPrintsNoCredentials()
    {
        using var cli = new RegistryCli();
        int port = TestRegistry.FreePort();
        cli.SaveCredentials("127.0.0.1:" + port, TestRegistry.User, TestRegistry.Password);
        string xar = cli.MakeXar("app.xar", 100);
        foreach (var r in new[]
        {
            cli.Run("pull", $"127.0.0.1:{port}/apps/tool:1", "-o", cli["out"], "--plain-http", "-v"),
            cli.Run("push", xar, $"127.0.0.1:{port}/apps/tool:1", "--plain-http", "-v"),
        })
        {
            RegistryCli.AssertFailure(r, 1, "cannot reach 127.0.0.1:" + port);
            AssertNoSecret(r);
        }
        Assert.False(File.Exists(cli["out"]));
    }

    [SkippableFact]
    public void MissingTagExitsTwo()
    {
        using var registry = TestRegistry.Start();
        using var cli = new RegistryCli();
        var r = cli.Run("pull", registry.Address + "/apps/nothing:1", "-o", cli["out"], "--plain-http");
        RegistryCli.AssertFailure(r, 2, "not found");
        Assert.False(File.Exists(cli["out"]));
    }

    [SkippableFact]
    public void HttpsToAPlainRegistryFailsWithAHint()
    {
        using var registry = TestRegistry.Start();
        using var cli = new RegistryCli();
        var r = cli.Run("pull", registry.Address + "/apps/tool:1", "-o", cli["out"]);
        RegistryCli.AssertFailure(r, 1, "--plain-http");
    }

    internal static void AssertNoSecret(ProcessResult r)
    {
        string all = r.StandardOutput + r.StandardError;
        Assert.DoesNotContain(TestRegistry.Password, all);
        Assert.DoesNotContain(Convert.ToBase64String(System.Text.Encoding.UTF8.GetBytes(TestRegistry.User + ":" + TestRegistry.Password)), all);
    }
}
