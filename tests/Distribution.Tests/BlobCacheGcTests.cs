using Xar.Tests;

namespace Xar.Distribution.Tests;

/// <summary>`xar gc` collects pulled blobs unused for --older-than, as it does extraction-cache entries.</summary>
public sealed class BlobCacheGcTests
{
    [SkippableFact]
    public void GcDeletesBlobsUnusedForOlderThanAndKeepsRecentOnes()
    {
        using var registry = TestRegistry.Start();
        using var cli = new RegistryCli();
        string oldXar = cli.MakeXar("old.xar", 10_000, seed: 1);
        string newXar = cli.MakeXar("new.xar", 10_000, seed: 2);
        cli.Run("push", oldXar, registry.Address + "/apps/old:1", "--plain-http").EnsureSuccess("push old");
        cli.Run("push", newXar, registry.Address + "/apps/new:1", "--plain-http").EnsureSuccess("push new");
        cli.Run("pull", registry.Address + "/apps/old:1", "-o", cli["o"], "--plain-http").EnsureSuccess("pull old");
        cli.Run("pull", registry.Address + "/apps/new:1", "-o", cli["n"], "--plain-http").EnsureSuccess("pull new");
        string blobs = Path.Combine(cli.Cache, "blobs", "sha256");
        string oldBlob = Path.Combine(blobs, RegistryCli.Digest(oldXar)[7..]);
        string newBlob = Path.Combine(blobs, RegistryCli.Digest(newXar)[7..]);
        File.SetLastWriteTimeUtc(oldBlob, DateTime.UtcNow.AddDays(-40));
        // A partial download abandoned long ago goes too.
        string stale = Path.Combine(blobs, "." + new string('a', 64) + ".part");
        File.WriteAllText(stale, "x");
        File.SetLastWriteTimeUtc(stale, DateTime.UtcNow.AddDays(-40));
        // So does the download lock a killed pull left.
        string staleLock = Path.Combine(blobs, "." + new string('b', 64) + ".lock");
        File.WriteAllText(staleLock, "");
        File.SetUnixFileMode(staleLock, UnixFileMode.UserRead | UnixFileMode.UserWrite);
        File.SetLastWriteTimeUtc(staleLock, DateTime.UtcNow.AddDays(-40));

        var dry = cli.Run("gc", "--dry-run");
        dry.EnsureSuccess("gc --dry-run");
        Assert.Contains("would delete: " + oldBlob, dry.StandardOutput);
        Assert.True(File.Exists(oldBlob));

        var gc = cli.Run("gc", "-v");
        gc.EnsureSuccess("gc");
        Assert.Contains("deleted: " + oldBlob, gc.StandardOutput);
        Assert.Contains("deleted: " + stale, gc.StandardOutput);
        Assert.Contains("deleted: " + staleLock, gc.StandardOutput);
        Assert.False(File.Exists(staleLock));
        Assert.Contains("recently used: " + newBlob, gc.StandardOutput);
        Assert.False(File.Exists(oldBlob));
        Assert.False(File.Exists(stale));
        Assert.True(File.Exists(newBlob));

        // A pull from the cache counts as a use: the blob's mtime moves on.
        File.SetLastWriteTimeUtc(newBlob, DateTime.UtcNow.AddDays(-40));
        cli.Run("pull", registry.Address + "/apps/new:1", "-o", cli["n2"], "--plain-http").EnsureSuccess("pull new again");
        Assert.True(File.GetLastWriteTimeUtc(newBlob) > DateTime.UtcNow.AddDays(-1));
        Assert.DoesNotContain(newBlob, cli.Run("gc").EnsureSuccess("gc").StandardOutput);
    }

    [SkippableFact]
    public void ACorruptedCachedBlobIsDownloadedAgain()
    {
        using var registry = TestRegistry.Start();
        using var cli = new RegistryCli();
        string xar = cli.MakeXar("app.xar", 50_000);
        cli.Run("push", xar, registry.Address + "/apps/tool:1", "--plain-http").EnsureSuccess("push");
        cli.Run("pull", registry.Address + "/apps/tool:1", "-o", cli["a"], "--plain-http").EnsureSuccess("pull");
        string blob = Path.Combine(cli.Cache, "blobs", "sha256", RegistryCli.Digest(xar)[7..]);
        File.SetUnixFileMode(blob, UnixFileMode.UserRead | UnixFileMode.UserWrite);
        var bytes = File.ReadAllBytes(blob);
        bytes[40_000] ^= 1;
        File.WriteAllBytes(blob, bytes);
        var again = cli.Run("pull", registry.Address + "/apps/tool:1", "-o", cli["b"], "--plain-http", "-v");
        again.EnsureSuccess("pull again");
        Assert.Contains("/blobs/sha256:", again.StandardError);
        Assert.Equal(File.ReadAllBytes(xar), File.ReadAllBytes(cli["b"]));
    }
}
