using System.Security.Cryptography;
using System.Text.Json;
using Xar.Runtime;

namespace Xar.Distribution;

/// <summary>What a push did: the manifest's digest, the file's blob, and whether its bytes had to be sent.</summary>
public sealed record PushResult(string ManifestDigest, string BlobDigest, long Size, string MediaType, bool BlobUploaded, bool DigestKnown = false);

/// <summary>
/// `xar push`: the file becomes the one layer of an OCI image manifest (artifactType application/vnd.xar.v1, the empty
/// config), with its header's UUID, VERSION and XAREXEC_TARGET and its name as annotations. Blobs the registry has
/// already are not sent again (HEAD first).
/// </summary>
public static class XarPush
{
    /// <summary>Pushes <paramref name="path"/>. <paramref name="progress"/> gets (bytes sent, bytes to send).</summary>
    /// <exception cref="Xar.SquashFs.Format.InvalidArchiveException">The file is not a XAR, self-contained executable or SquashFS image.</exception>
    public static async Task<PushResult> PushAsync(string path, ImageReference reference, IReadOnlyList<KeyValuePair<string, string>> extraAnnotations,
        RegistryClientOptions options, Action<long, long>? progress, CancellationToken ct)
    {
        if (reference.Digest is not null)
            throw new RegistryException($"{reference}: push to a tag, not a digest (the registry names the manifest by its digest)", badInput: true);
        if (Directory.Exists(path))
            throw new RegistryException("is a directory, not a XAR", badInput: true, file: path);
        if (File.Exists(path) && PosixPath.TryStat(path) is { IsRegularFile: false })
            throw new RegistryException("is not a regular file, so it holds no XAR", badInput: true, file: path); // a FIFO would block the open
        using var file = File.OpenHandle(path, FileMode.Open, FileAccess.Read, FileShare.Read);
        string mediaType;
        var annotations = new Dictionary<string, string> { [XarMediaTypes.TitleAnnotation] = Path.GetFileName(path) };
        using (var archive = XarArchive.Open(file, leaveOpen: true))
        {
            mediaType = archive.ArchiveOffset > 0 ? XarMediaTypes.SelfContainedLayer : archive.Header is null ? XarMediaTypes.SquashFsLayer : XarMediaTypes.XarLayer;
            if (archive.Header is { } header)
            {
                annotations[XarMediaTypes.UuidAnnotation] = header.Uuid;
                annotations[XarMediaTypes.VersionAnnotation] = header.Version;
                if (header.ExecTarget is { } target)
                    annotations[XarMediaTypes.ExecTargetAnnotation] = target;
            }
        }
        foreach (var (key, value) in extraAnnotations)
            annotations[key] = value;
        long length = RandomAccess.GetLength(file);

        using var client = new RegistryClient(reference, push: true, options);
        string digest;
        bool uploaded;
        // An unchanged file pushed before: its digest from the cache, nothing hashed (XarDigestCache says when a
        // record counts). The registry checks the digest of what it is sent, so a wrong record could only ever name
        // a blob, never store wrong bytes under a digest.
        var identity = XarDigestCache.Of(file);
        string? known = identity is { } id ? XarDigestCache.Lookup(id) : null;
        var started = DateTime.UtcNow;
        if (known is not null)
        {
            try
            {
                digest = known;
                uploaded = await UploadUnlessPresentAsync(client, file, length, digest, progress, ct);
            }
            catch (RegistryException e) when (identity is { } wrong && e.Code == "DIGEST_INVALID")
            {
                // The registry refused the bytes under the recorded digest: the record names content the file no
                // longer holds (changed with its timestamps put back). Forget it and push as if it never existed.
                // Any other failure (unreachable, refused credentials) says nothing about the record: it stays.
                XarDigestCache.Forget(wrong);
                known = null;
                started = DateTime.UtcNow;
                digest = Hash(file, length, ct);
                uploaded = await UploadUnlessPresentAsync(client, file, length, digest, progress, ct);
            }
        }
        else if (length < SpeculateFrom)
        {
            digest = Hash(file, length, ct);
            uploaded = await UploadUnlessPresentAsync(client, file, length, digest, progress, ct);
        }
        else
            (digest, uploaded) = await HashWhileUploadingAsync(client, file, length, progress, ct);
        if (known is null && identity is { } hashed)
            XarDigestCache.Record(file, hashed, started, digest);
        progress?.Invoke(length, length);
        if (!await client.BlobExistsAsync(XarMediaTypes.EmptyConfigDigest, ct))
            await client.UploadSmallBlobAsync(XarMediaTypes.EmptyConfigBytes.ToArray(), XarMediaTypes.EmptyConfigDigest, ct);

        var manifest = new OciManifest
        {
            SchemaVersion = 2,
            MediaType = XarMediaTypes.Manifest,
            ArtifactType = XarMediaTypes.ArtifactType,
            Config = new OciDescriptor { MediaType = XarMediaTypes.EmptyConfig, Digest = XarMediaTypes.EmptyConfigDigest, Size = XarMediaTypes.EmptyConfigBytes.Length },
            Layers =
            [
                new OciDescriptor
                {
                    MediaType = mediaType, Digest = digest, Size = length,
                    Annotations = new() { [XarMediaTypes.TitleAnnotation] = Path.GetFileName(path) },
                },
            ],
            Annotations = annotations,
        };
        byte[] body = JsonSerializer.SerializeToUtf8Bytes(manifest, DistributionJson.Plain.OciManifest);
        string manifestDigest = Sha256Digest.Of(body);
        await client.PutManifestAsync(body, manifestDigest, reference.Tag ?? ImageReference.DefaultTag, ct);
        return new PushResult(manifestDigest, digest, length, mediaType, uploaded, known is not null);
    }

    /// <summary>Uploads the blob unless the registry has it; true when it was uploaded.</summary>
    private static async Task<bool> UploadUnlessPresentAsync(RegistryClient client, Microsoft.Win32.SafeHandles.SafeFileHandle file,
        long length, string digest, Action<long, long>? progress, CancellationToken ct)
    {
        if (await client.BlobExistsAsync(digest, ct))
            return false;
        await client.UploadBlobAsync(file, length, digest, done => progress?.Invoke(done, length), ct);
        return true;
    }

    /// <summary>
    /// Files from this size on are hashed while they are uploaded (<see cref="HashWhileUploadingAsync"/>); smaller ones
    /// are hashed first (a few ms), so a push of a file the registry has sends none of it.
    /// </summary>
    public const long SpeculateFrom = 32L << 20;

    /// <summary>
    /// Hashing a GiB takes most of a second, which a push that hashed first and uploaded next added to the upload
    /// (1.32 x curl's time, bench/RESULTS.md). So the two overlap: the file is hashed on a thread of its own while it
    /// is uploaded into a new session (PATCH requests, the digest only needed by the closing PUT); as soon as the
    /// digest is known, HEAD asks whether the registry has the blob, and if it does the upload is cancelled and its
    /// session deleted. The price: a big file the registry already has is partly sent again (what goes up during the
    /// hash). The file is read twice, the second time from the page cache.
    /// </summary>
    private static async Task<(string Digest, bool Uploaded)> HashWhileUploadingAsync(RegistryClient client,
        Microsoft.Win32.SafeHandles.SafeFileHandle file, long length, Action<long, long>? progress, CancellationToken ct)
    {
        string location = await client.StartUploadAsync(ct);
        using var stop = CancellationTokenSource.CreateLinkedTokenSource(ct);
        var hashing = Task.Factory.StartNew(() => Hash(file, length, stop.Token), stop.Token, TaskCreationOptions.LongRunning, TaskScheduler.Default);
        var upload = client.UploadBlobSpeculativelyAsync(location, file, length, hashing, done => progress?.Invoke(done, length), stop.Token);
        bool settled = false;
        try
        {
            // An upload that fails before the hash is done (refused, unreachable) is reported at once.
            if (await Task.WhenAny(hashing, upload) == upload)
                await upload;
            string digest = await hashing;
            if (await client.BlobExistsAsync(digest, ct))
            {
                stop.Cancel();
                try
                {
                    await upload;
                }
                catch (Exception e) when (e is OperationCanceledException or RegistryException or HttpRequestException or IOException)
                {
                }
                await client.CancelUploadAsync(location);
                settled = true;
                return (digest, false);
            }
            await upload;
            settled = true;
            return (digest, true);
        }
        finally
        {
            if (!settled)
            {
                // A failure on one side: stop the other, and wait for it, so nothing reads the file once it is closed.
                stop.Cancel();
                try { await Task.WhenAll(hashing, upload); } catch (Exception) { }
            }
        }
    }

    /// <summary>SHA-256 of the file, read synchronously 4 MiB at a time (no thread hand-off per buffer).</summary>
    private static string Hash(Microsoft.Win32.SafeHandles.SafeFileHandle file, long length, CancellationToken ct)
    {
        using var hash = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
        byte[] buffer = new byte[4 << 20];
        long at = 0;
        while (at < length)
        {
            ct.ThrowIfCancellationRequested();
            int n = RandomAccess.Read(file, buffer.AsSpan(0, (int)Math.Min(buffer.Length, length - at)), at);
            if (n == 0)
                throw new IOException("the file became shorter while it was being read");
            hash.AppendData(buffer, 0, n);
            at += n;
        }
        return Sha256Digest.FromHash(hash.GetHashAndReset());
    }
}
