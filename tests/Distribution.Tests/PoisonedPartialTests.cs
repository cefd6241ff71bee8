namespace Xar.Distribution.Tests;

/// <summary>
/// A pull continues the partial download an earlier pull left (.HEX.part). When what it kept is wrong (a disk that
/// lied, a file someone wrote to, a registry whose bytes changed since), the resumed whole does not match the digest:
/// the partial file goes and the blob is downloaded once more from byte 0; only when that fails too does the pull
/// fail, in one line, leaving no partial file behind.
/// </summary>
public sealed class PoisonedPartialTests
{
    private const UnixFileMode Private = UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute;

    /// <summary>Writes <paramref name="bytes"/> as the partial download of <paramref name="digest"/> in the CLI's cache; its path.</summary>
    private static string PlantPartial(RegistryCli cli, string digest, byte[] bytes)
    {
        string directory = cli.Cache;
        foreach (string part in new[] { "", "blobs", "sha256" })
        {
            directory = part.Length == 0 ? directory : Path.Combine(directory, part);
            Directory.CreateDirectory(directory, Private);
        }
        string partial = Path.Combine(directory, "." + digest[7..] + ".part");
        File.WriteAllBytes(partial, bytes);
        File.SetUnixFileMode(partial, UnixFileMode.UserRead | UnixFileMode.UserWrite);
        return partial;
    }

    /// <summary>The heads of the GET requests for <paramref name="registry"/>'s blob, in order.</summary>
    private static string[] BlobGets(HostileRegistry registry) =>
        registry.Requests.Split("\r\n\r\n").Where(h => h.StartsWith("GET /v2/apps/tool/blobs/" + registry.Digest, StringComparison.Ordinal)).ToArray();

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void APoisonedPartialIsDiscardedAndTheBlobDownloadedAgain(bool wholeLength)
    {
        using var cli = new RegistryCli { TimeoutMs = 60_000 };
        using var registry = new HostileRegistry(File.ReadAllBytes(cli.MakeXar("app.xar", 200_000)));
        byte[] poisoned = registry.Blob[..(wholeLength ? registry.Blob.Length : registry.Blob.Length / 2)];
        for (int i = 0; i < poisoned.Length; i += 4096)
            poisoned[i] ^= 0x5a;
        string partial = PlantPartial(cli, registry.Digest, poisoned);

        var r = cli.Run("pull", registry.Reference, "-o", cli["out"], "--plain-http", "-v");
        r.EnsureSuccess("pull");
        Assert.Equal(registry.Blob, File.ReadAllBytes(cli["out"]));
        Assert.False(File.Exists(partial));
        Assert.Contains($"did not match its digest; downloading it again from byte 0", r.StandardError);
        string[] gets = BlobGets(registry);
        if (wholeLength)
            Assert.Single(gets); // all of it was there: nothing to continue, only the fresh download
        else
        {
            Assert.Equal(2, gets.Length);
            Assert.Contains($"Range: bytes={poisoned.Length}-", gets[0]);
        }
        Assert.DoesNotContain("Range:", gets[^1]);

        // The blob in the cache is the good one: a second pull takes it from there.
        File.Delete(cli["out"]);
        cli.Run("pull", registry.Reference, "-o", cli["out"], "--plain-http").EnsureSuccess("pull from the cache");
        Assert.Equal(registry.Blob, File.ReadAllBytes(cli["out"]));
        Assert.Equal(gets.Length, BlobGets(registry).Length);
    }

    [Fact]
    public void ARegistryWhoseBytesChangedFailsAfterOneFreshTry()
    {
        using var cli = new RegistryCli { TimeoutMs = 60_000 };
        using var registry = new HostileRegistry(File.ReadAllBytes(cli.MakeXar("app.xar", 200_000)));
        // The registry now sends other bytes of the same length under the manifest's digest, whole or in part.
        byte[] other = (byte[])registry.Blob.Clone();
        other[^10] ^= 0xff;
        registry.Handler = async x =>
        {
            if (x.Method != "GET" || !x.Path.Contains("/blobs/", StringComparison.Ordinal))
                return false;
            string? range = x.Head.Split("\r\n").FirstOrDefault(l => l.StartsWith("Range: bytes=", StringComparison.Ordinal));
            int from = range is null ? 0 : int.Parse(range["Range: bytes=".Length..].TrimEnd('-'));
            await x.AnswerAsync(from > 0 ? "206 Partial Content" : "200 OK", other[from..],
                from > 0 ? $"Content-Range: bytes {from}-{other.Length - 1}/{other.Length}\r\n" : "", "application/octet-stream");
            return true;
        };
        string partial = PlantPartial(cli, registry.Digest, registry.Blob[..(registry.Blob.Length / 2)]);

        var r = cli.Run("pull", registry.Reference, "-o", cli["out"], "--plain-http");
        RegistryCli.AssertFailure(r, 2, $"blob digest mismatch: the manifest says {registry.Digest}, its bytes are {RegistryCli.DigestOf(other)} (downloaded anew from byte 0");
        Assert.False(File.Exists(partial));
        Assert.False(File.Exists(cli["out"]));
        Assert.False(File.Exists(Path.Combine(Path.GetDirectoryName(partial)!, registry.Digest[7..])));
        string[] gets = BlobGets(registry);
        Assert.Equal(2, gets.Length); // one resume, one fresh try, no more
        Assert.Contains("Range: bytes=", gets[0]);
        Assert.DoesNotContain("Range:", gets[1]);
    }
}
