namespace Xar.Distribution.Tests;

/// <summary>
/// Two `xar pull`s of one blob at once, by one user with one cache: the first downloads it under the blob's lock, the
/// second waits, then takes the cached copy. Both succeed with the same bytes; the cache holds one copy.
/// </summary>
public sealed class ConcurrentPullTests
{
    [SkippableFact]
    public void TwoPullsOfOneBlobAtOnceBothSucceedAndDownloadItOnce()
    {
        using var registry = TestRegistry.Start();
        using var cli = new RegistryCli();
        string xar = cli.MakeXar("big.xar", 8 << 20);
        string digest = RegistryCli.Digest(xar);
        cli.Run("push", xar, registry.Address + "/apps/big:1", "--plain-http").EnsureSuccess("push");
        // Slowed down (about 2 s for the blob) so the two pulls overlap.
        using var proxy = new ThrottledProxy(registry.Address) { BytesPerSecond = 4 << 20 };

        var pulls = new[] { "a", "b" }
            .Select(name => Task.Run(() => cli.Run("pull", proxy.Address + "/apps/big:1", "-o", cli[name], "--plain-http", "-v")))
            .ToArray();
        Task.WaitAll(pulls);
        foreach (var pull in pulls)
            pull.Result.EnsureSuccess("pull");

        Assert.Equal(digest, RegistryCli.Digest(cli["a"]));
        Assert.Equal(File.ReadAllBytes(cli["a"]), File.ReadAllBytes(cli["b"]));
        // One download between them: the other found the copy the first made.
        int downloads = proxy.Sent.Split("GET /v2/apps/big/blobs/" + digest).Length - 1;
        Assert.Equal(1, downloads);
        var waited = Assert.Single(pulls, p => p.Result.StandardError.Contains("from the cache"));
        // It said once why it sat there (a line xar prints with or without -v).
        Assert.Single(waited.Result.StandardError.Split('\n'), l => l == $"xar: waiting for another pull of blob {digest} (same cache) to finish");
        Assert.DoesNotContain(pulls, p => p != waited && p.Result.StandardError.Contains("waiting for another pull"));
        Assert.Equal([digest[7..]], Directory.GetFiles(Path.Combine(cli.Cache, "blobs", "sha256")).Select(Path.GetFileName));
    }
}
