using System.Security.Cryptography;
using System.Text.Json;
using Xar.Runtime;

namespace Xar.Distribution;

/// <summary>What a push did: the manifest's digest, the file's blob, and whether its bytes had to be sent.</summary>
public sealed record PushResult(string ManifestDigest, string BlobDigest, long Size, string MediaType, bool BlobUploaded);

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
        string digest = await HashAsync(file, length, ct);

        using var client = new RegistryClient(reference, push: true, options);
        bool uploaded = false;
        if (!await client.BlobExistsAsync(digest, ct))
        {
            await client.UploadBlobAsync(file, length, digest, done => progress?.Invoke(done, length), ct);
            uploaded = true;
        }
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
        return new PushResult(manifestDigest, digest, length, mediaType, uploaded);
    }

    private static async Task<string> HashAsync(Microsoft.Win32.SafeHandles.SafeFileHandle file, long length, CancellationToken ct)
    {
        using var hash = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
        byte[] buffer = new byte[1 << 20];
        long at = 0;
        while (at < length)
        {
            int n = await RandomAccess.ReadAsync(file, buffer, at, ct);
            if (n == 0)
                throw new IOException("the file became shorter while it was being read");
            hash.AppendData(buffer, 0, n);
            at += n;
        }
        return Sha256Digest.FromHash(hash.GetHashAndReset());
    }
}
