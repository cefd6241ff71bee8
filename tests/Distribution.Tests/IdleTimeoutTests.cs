using Xar.Tests;

namespace Xar.Distribution.Tests;

/// <summary>
/// A registry that stops sending in the middle of a blob makes `xar pull` fail after the idle limit
/// (XAR_HTTP_TIMEOUT), in one line, keeping what came so the next pull resumes from there with a Range request; one
/// that stops taking an upload fails the push the same way.
/// </summary>
public sealed class IdleTimeoutTests
{
    [Fact]
    public void AStalledDownloadFailsAfterTheLimitAndTheNextPullResumes()
    {
        using var cli = new RegistryCli();
        byte[] blob = File.ReadAllBytes(cli.MakeXar("app.xar", 3 << 20)); // a XAR: pull checks what it places
        using var registry = new StallingRegistry(blob) { StallAfter = (1 << 20) + 123 };
        // 3 s, not 1: the limit holds for every request, and on a loaded machine the manifest's answer alone took
        // longer than 1 s once (the pull then failed on the manifest, not on the stalled blob).
        cli.ExtraEnvironment["XAR_HTTP_TIMEOUT"] = "3";
        string digest = RegistryCli.DigestOf(blob);
        string partial = Path.Combine(cli.Cache, "blobs", "sha256", "." + digest[7..] + ".part");

        var stalled = cli.Run("pull", registry.Address + "/apps/tool:1", "-o", cli["out"], "--plain-http");
        RegistryCli.AssertFailure(stalled, 1, "registry stopped sending for 3 s");
        Assert.Contains(digest, stalled.StandardError);
        Assert.False(File.Exists(cli["out"]));
        Assert.Equal((1 << 20) + 123, new FileInfo(partial).Length);

        registry.StallAfter = null;
        var resumed = cli.Run("pull", registry.Address + "/apps/tool:1", "-o", cli["out"], "--plain-http", "-v");
        resumed.EnsureSuccess("resumed pull");
        Assert.Contains($"Range: bytes={(1 << 20) + 123}-", registry.Requests);
        Assert.Contains($"resumed at byte {(1 << 20) + 123}", resumed.StandardError);
        Assert.Equal(blob, File.ReadAllBytes(cli["out"]));
        Assert.Equal([digest[7..]], Directory.GetFiles(Path.Combine(cli.Cache, "blobs", "sha256")).Select(Path.GetFileName));
    }

    [Fact]
    public void ARegistryThatStopsTakingAnUploadFailsThePushAfterTheLimit()
    {
        using var registry = new StallingRegistry([1, 2, 3]);
        using var cli = new RegistryCli();
        cli.ExtraEnvironment["XAR_HTTP_TIMEOUT"] = "1";
        // Bigger than the socket buffers can hold, so the body's writes block.
        string xar = cli.MakeXar("big.xar", 40 << 20);
        var push = cli.Run("push", xar, registry.Address + "/apps/tool:1", "--plain-http");
        RegistryCli.AssertFailure(push, 1, "registry stopped receiving for 1 s");
    }

    [Fact]
    public void ABadLimitIsBadUsage()
    {
        using var cli = new RegistryCli();
        cli.ExtraEnvironment["XAR_HTTP_TIMEOUT"] = "soon";
        var r = cli.Run("pull", "127.0.0.1:9/apps/tool:1", "-o", cli["out"], "--plain-http");
        RegistryCli.AssertFailure(r, 2, "XAR_HTTP_TIMEOUT=soon");
        Assert.False(File.Exists(cli["out"]));
    }
}
