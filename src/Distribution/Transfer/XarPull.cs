using System.Net;
using System.Runtime.ExceptionServices;
using System.Security.Cryptography;
using System.Text.Json;
using Xar.Posix;
using Xar.Runtime;

namespace Xar.Distribution;

/// <summary>What a pull did: the manifest's and the file's digests, and where the bytes came from.</summary>
public sealed record PullResult(string ManifestDigest, string BlobDigest, long Size, bool FromCache, long ResumedFrom);

/// <summary>
/// `xar pull`: resolves the manifest, checks it (its digest when pulled by digest, the registry's digest header
/// otherwise, one XAR layer), then takes the layer from the blob cache (<see cref="XarBlobCache"/>) or downloads it
/// there (under the blob's lock, so concurrent pulls of it download it once), continuing an interrupted download
/// with a Range request, checking size and digest; and writes the output
/// atomically, mode 0755, from the checked copy. Nothing is left at the output when a digest does not match.
/// </summary>
public static class XarPull
{
    private const int BufferSize = 1 << 20;
    private const int PipelineBufferSize = 4 << 20;
    private const UnixFileMode Executable = (UnixFileMode)0x1ED; // 0755

    public static async Task<PullResult> PullAsync(ImageReference reference, string output, RegistryClientOptions options,
        Action<long, long>? progress, CancellationToken ct)
    {
        // OUT may be a lossless string (LosslessUtf8: a name that is not UTF-8), so it is used only through LibC.
        string shownOutput = LosslessUtf8.Display(output);
        if (PosixPath.TryStat(output) is { IsDirectory: true })
            throw new RegistryException("is a directory", badInput: true, file: shownOutput);
        if (Path.GetDirectoryName(NativePath.FullPath(output)) is { } parent && PosixPath.TryStat(parent) is not { IsDirectory: true })
            throw new RegistryException($"no such directory: {LosslessUtf8.Display(parent)}", badInput: true, file: shownOutput);
        using var client = new RegistryClient(reference, push: false, options);
        var (body, mediaType, registryDigest) = await client.GetManifestAsync(reference.ManifestReference, ct);
        string manifestDigest = Sha256Digest.Of(body);
        if (reference.Digest is { } wanted && wanted != manifestDigest)
            throw new RegistryException($"manifest digest mismatch: asked for {wanted}, the registry sent {manifestDigest}", badInput: true);
        if (registryDigest is not null && Sha256Digest.IsValid(registryDigest) && registryDigest != manifestDigest)
            throw new RegistryException($"manifest digest mismatch: the registry says {registryDigest}, its bytes are {manifestDigest}", badInput: true);
        var layer = XarLayer(body, mediaType);
        string digest = layer.Digest;
        long size = layer.Size;

        using var cacheDirectory = XarBlobCache.OpenHeld(); // any bytes in its name: reached as /proc/self/fd/N
        string cache = cacheDirectory.At;
        string hex = Sha256Digest.Hex(digest);
        string blob = cache + "/" + hex;
        if (TryPlace(blob, digest, size, layer.MediaType, output, verify: true))
        {
            File.SetLastWriteTimeUtc(blob, DateTime.UtcNow); // its last use, for gc
            progress?.Invoke(size, size);
            return new PullResult(manifestDigest, digest, size, FromCache: true, ResumedFrom: 0);
        }
        // Not cached: download it under the blob's lock. A second pull of it (same user, same cache) waits here, then
        // finds the blob the first one made and reuses it (checked again: a lock holder that was killed left none).
        var held = XarBlobCache.Lock(cache, hex, options.Notice is { } notice
            ? () => notice($"waiting for another pull of blob {digest} (same cache) to finish")
            : null);
        try
        {
            if (TryPlace(blob, digest, size, layer.MediaType, output, verify: true))
            {
                progress?.Invoke(size, size);
                return new PullResult(manifestDigest, digest, size, FromCache: true, ResumedFrom: 0);
            }
            string partial = cache + "/." + hex + XarBlobCache.PartialSuffix;
            long resumedFrom;
            try
            {
                resumedFrom = await DownloadAsync(client, digest, size, partial, blob, resume: true, options.IdleTimeout, progress, ct);
            }
            catch (ResumedMismatchException e)
            {
                // The bytes kept from an earlier pull (or the registry's, changed since) did not make the blob: the
                // partial file is gone, and the whole blob is fetched once more from byte 0. A second mismatch is the
                // registry's and fails.
                options.Log?.Invoke($"blob {digest}: the download resumed at byte {e.ResumedFrom} did not match its digest; downloading it again from byte 0");
                resumedFrom = await DownloadAsync(client, digest, size, partial, blob, resume: false, options.IdleTimeout, progress, ct);
            }
            if (!TryPlace(blob, digest, size, layer.MediaType, output, verify: false))
                throw new IOException($"{blob}: changed while it was copied out");
            return new PullResult(manifestDigest, digest, size, FromCache: false, resumedFrom);
        }
        finally
        {
            XarBlobCache.Release(held);
        }
    }

    /// <summary>The one layer of a XAR artifact's manifest, checked.</summary>
    private static OciDescriptor XarLayer(byte[] body, string? mediaType)
    {
        OciManifest? manifest;
        try
        {
            manifest = JsonSerializer.Deserialize(body, DistributionJson.Default.OciManifest);
        }
        catch (JsonException)
        {
            throw new RegistryException("the manifest is not valid JSON", badInput: true);
        }
        string type = manifest?.MediaType ?? mediaType ?? "";
        if (manifest is null || manifest.SchemaVersion != 2 || type != XarMediaTypes.Manifest)
            throw new RegistryException($"not a XAR artifact: the manifest is {(type.Length == 0 ? "of no known type" : RegistryText.Shown(type))}, not an OCI image manifest", badInput: true);
        if (manifest.Layers is not [var layer] || !XarMediaTypes.IsXarLayer(layer.MediaType))
            throw new RegistryException($"not a XAR artifact (artifactType {RegistryText.Shown(manifest.ArtifactType ?? "none")}): it should have one layer of type {XarMediaTypes.XarLayer}, {XarMediaTypes.SelfContainedLayer} or {XarMediaTypes.SquashFsLayer}", badInput: true);
        if (!Sha256Digest.IsValid(layer.Digest) || layer.Size < 0)
            throw new RegistryException($"the manifest's layer has an unusable digest or size ({RegistryText.Shown(layer.Digest)}, {layer.Size})", badInput: true);
        return layer;
    }

    /// <summary>
    /// Puts the cached blob at <paramref name="output"/>, atomically: a hard link to it (or, on another file system, a
    /// kernel copy) under a temporary sibling name, renamed over the output. A link writes nothing: the pulled file and
    /// the cached copy are one inode, mode 0755 (the cache directory, 0700, keeps others out of it), so a 1 GiB pull
    /// writes 1 GiB, not 2 (bench/RESULTS.md, "OCI push and pull"). A blob of another mode (a user's chmod of an
    /// earlier pulled copy, which is this inode, or an older xar's cache) is copied, never chmodded: that would change
    /// every earlier copy. With <paramref name="verify"/> (a copy found in the cache, not one just downloaded and
    /// checked) the blob is hashed first. Its content must be what <paramref name="mediaType"/> says
    /// (<see cref="CheckContent"/>). False when there is no such blob, or it does not hold <paramref name="digest"/>
    /// (then it is deleted, to be downloaded again).
    /// </summary>
    private static bool TryPlace(string blob, string digest, long size, string mediaType, string output, bool verify)
    {
        var info = new FileInfo(blob);
        if (!info.Exists)
            return false;
        try
        {
            if (info.Length != size || (verify && HashFile(blob) != digest))
            {
                Discard(blob);
                return false;
            }
        }
        catch (FileNotFoundException)
        {
            return false; // gc removed it meanwhile
        }
        if (!CheckContent(blob, mediaType))
            return false;
        string full = NativePath.FullPath(output);
        string name = Path.GetFileName(full);
        string temp = Path.Combine(Path.GetDirectoryName(full) ?? ".", $".{name[..Math.Min(name.Length, 200)]}.{Environment.ProcessId}-{Guid.NewGuid().ToString("N")[..8]}.tmp");
        try
        {
            bool linkable = (info.UnixFileMode & (UnixFileMode)0xFFF) == Executable;
            int linked = linkable ? HardLink(blob, temp) : -1;
            if (linked == LibC.ENOENT)
                return false; // gc removed the blob meanwhile: download it again
            if (linked != 0)
                CopyTo(blob, temp);
            if (LibC.Rename(temp, full) != 0)
                throw new IOException($"{LosslessUtf8.Display(full)}: cannot replace it: {LibC.Describe(LibC.LastError)}");
            // rename(2) does nothing when both names are links to one inode (the output is this blob already from an
            // earlier pull): the temporary name is then still there.
            Discard(temp);
            return true;
        }
        catch (FileNotFoundException) when (!File.Exists(blob))
        {
            Discard(temp);
            return false; // gc removed it meanwhile
        }
        catch
        {
            Discard(temp);
            throw;
        }
    }

    /// <summary>
    /// True when the blob holds what its layer's <paramref name="mediaType"/> says (a XAR: its header parses; a
    /// self-contained XAR: an ELF file with a XAR after its end; SquashFS: an image), as push decides it; false when it
    /// is gone (gc). Anything else is bad input, before the output is written: a digest only says the registry sent what
    /// the manifest names, and a shell script with the right digest must not become an executable here.
    /// </summary>
    private static bool CheckContent(string blob, string mediaType)
    {
        string? found;
        try
        {
            using var file = File.OpenHandle(blob, FileMode.Open, FileAccess.Read, FileShare.Read);
            using var archive = XarArchive.Open(file, leaveOpen: true);
            found = archive.ArchiveOffset > 0 ? XarMediaTypes.SelfContainedLayer : archive.Header is null ? XarMediaTypes.SquashFsLayer : XarMediaTypes.XarLayer;
        }
        catch (FileNotFoundException)
        {
            return false;
        }
        catch (Exception e) when (e is Xar.SquashFs.Format.InvalidArchiveException or EndOfStreamException)
        {
            found = null;
        }
        if (found == mediaType)
            return true;
        throw new RegistryException($"not a {Kind(mediaType)}: the layer's bytes are {(found is null ? "no XAR, self-contained XAR or SquashFS image" : "a " + Kind(found))}", badInput: true);
    }

    private static string Kind(string mediaType) => mediaType switch
    {
        XarMediaTypes.SelfContainedLayer => "self-contained XAR",
        XarMediaTypes.SquashFsLayer => "SquashFS image",
        _ => "XAR",
    };

    /// <summary>
    /// link(2): 0, or the errno when the file systems differ, links are not allowed there (the caller copies) or the
    /// blob is gone (ENOENT); any other failure throws.
    /// </summary>
    private static unsafe int HardLink(string existing, string link)
    {
        byte[] from = NativePath.ToCString(LosslessUtf8.Encode(existing));
        byte[] to = NativePath.ToCString(LosslessUtf8.Encode(link));
        fixed (byte* f = from, t = to)
        {
            if (LibC.LinkAt(LibC.AT_FDCWD, f, LibC.AT_FDCWD, t, 0) == 0)
                return 0;
        }
        int errno = LibC.LastError;
        if (errno is LibC.EXDEV or LibC.EPERM or LibC.ENOTSUP or LibC.ENOENT or 31 /* EMLINK */)
            return errno;
        throw new IOException($"cannot link {existing} to {LosslessUtf8.Display(link)}: {LibC.Describe(errno)}");
    }

    /// <summary>A new file <paramref name="copy"/> (mode 0755, made by its bytes) with the blob's content: the output on another file system.</summary>
    private static void CopyTo(string blob, string copy)
    {
        int fd = LibC.Open(copy, LibC.O_WRONLY | LibC.O_CREAT | LibC.O_EXCL | LibC.O_CLOEXEC, (int)Executable);
        if (fd < 0)
            throw new IOException($"{LosslessUtf8.Display(copy)}: cannot create: {LibC.Describe(LibC.LastError)}");
        using var target = new FileStream(new Microsoft.Win32.SafeHandles.SafeFileHandle(fd, ownsHandle: true), FileAccess.Write, bufferSize: 0);
        using var source = new FileStream(blob, FileMode.Open, FileAccess.Read, FileShare.Read, bufferSize: 0);
        source.CopyTo(target, BufferSize);
        if (LibC.Fchmod(fd, (uint)Executable) != 0) // O_CREAT's mode passes through the umask
            throw new IOException($"{LosslessUtf8.Display(copy)}: cannot set its mode: {LibC.Describe(LibC.LastError)}");
    }

    private static string HashFile(string path)
    {
        using var stream = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.Read, bufferSize: 0);
        using var hash = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
        byte[] buffer = new byte[BufferSize];
        int n;
        while ((n = stream.Read(buffer)) > 0)
            hash.AppendData(buffer, 0, n);
        return Sha256Digest.FromHash(hash.GetHashAndReset());
    }

    /// <summary>
    /// Writes <paramref name="data"/> at <paramref name="offset"/> in writes of <see cref="WritePiece"/> bytes. With one
    /// 4 MiB write per buffer a 1 GiB pull took 1.7-2.3 s in most runs here, 0.8 s more system time (most likely page-cache
    /// folios as large as the write, needing contiguous memory), against 1.03-1.15 s with 256 KiB writes (curl, writing
    /// 16 KiB at a time, 1.02-1.05 s; bench/RESULTS.md, "OCI push and pull").
    /// </summary>
    private static void WriteInPieces(Microsoft.Win32.SafeHandles.SafeFileHandle file, ReadOnlySpan<byte> data, long offset)
    {
        for (int at = 0; at < data.Length; at += WritePiece)
            RandomAccess.Write(file, data.Slice(at, Math.Min(WritePiece, data.Length - at)), offset + at);
    }

    private const int WritePiece = 256 << 10;

    /// <summary>ENOSPC and EDQUOT, as .NET's IOException carries them (HResult = errno on Linux).</summary>
    private const int NoSpace = 28, QuotaExceeded = 122;

    /// <summary>Removes <paramref name="path"/> (by its bytes) if it is there.</summary>
    private static void Discard(string path) => LibC.Unlink(path);

    /// <summary>
    /// Downloads the blob into <paramref name="partial"/> (continuing what is there with a Range request), checks
    /// its size and digest, and renames it to <paramref name="blob"/>. Returns the byte it resumed from (0: all of it).
    /// A mismatch deletes the partial file and is bad input; when the download continued one (<paramref name="resume"/>,
    /// and bytes were there), it is a <see cref="ResumedMismatchException"/>. Without <paramref name="resume"/> any
    /// partial file is emptied first.
    /// </summary>
    private static async Task<long> DownloadAsync(RegistryClient client, string digest, long size, string partial, string blob,
        bool resume, TimeSpan idleTimeout, Action<long, long>? progress, CancellationToken ct)
    {
        using var idle = new IdleTimer(idleTimeout, ct);
        FileStream file;
        try
        {
            // FileShare.None as well as the blob's lock: an older xar pulling the same blob does not take that lock.
            var fileOptions = new FileStreamOptions { Mode = FileMode.OpenOrCreate, Access = FileAccess.ReadWrite, Share = FileShare.None, BufferSize = 0 };
            if (!OperatingSystem.IsWindows())
                fileOptions.UnixCreateMode = UnixFileMode.UserRead | UnixFileMode.UserWrite;
            file = new FileStream(partial, fileOptions);
        }
        catch (IOException e) when (e is not FileNotFoundException and not DirectoryNotFoundException)
        {
            throw new RegistryException($"{partial}: another pull is downloading this blob ({e.Message})");
        }
        bool complete = false;
        Uri? source = null; // where the bytes came from: the registry, or storage it redirected to
        try
        {
            using var hash = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
            byte[] buffer = new byte[BufferSize];
            long have = file.Length;
            if (have > size || !resume)
            {
                file.SetLength(0);
                have = 0;
            }
            // What an earlier pull wrote counts only once it is hashed again (the hash state is not kept).
            file.Position = 0;
            for (long at = 0; at < have;)
            {
                int n = await file.ReadAsync(buffer.AsMemory(0, (int)Math.Min(buffer.Length, have - at)), ct);
                if (n == 0)
                    break;
                hash.AppendData(buffer, 0, n);
                at += n;
            }
            long resumedFrom = have;
            if (have < size || size == 0)
            {
                using var response = await client.GetBlobAsync(digest, have, ct);
                source = response.RequestMessage?.RequestUri;
                if (response.StatusCode == HttpStatusCode.RequestedRangeNotSatisfiable)
                    throw new RegistryException($"blob {digest}: the registry refused the range {have}- of a {size}-byte blob");
                if (response.StatusCode == HttpStatusCode.PartialContent)
                {
                    if (response.Content.Headers.ContentRange is not { From: { } from } || from != have)
                        throw new RegistryException($"blob {digest}: the registry answered a Range request with another range");
                }
                else if (have > 0)
                {
                    // 200: the whole blob again (a registry without Range support).
                    file.SetLength(0);
                    hash.GetHashAndReset();
                    have = 0;
                    resumedFrom = 0;
                }
                file.Position = have;
                await using var stream = await response.Content.ReadAsStreamAsync(ct);
                // Two buffers: while one is written and hashed on the thread pool, the next is received. 4 MiB each, so a
                // GiB costs 256 hand-offs between threads (each a wake-up, slow on a loaded machine), not 1024.
                buffer = new byte[PipelineBufferSize];
                byte[] next = new byte[PipelineBufferSize];
                Task pending = Task.CompletedTask;
                try
                {
                    while (true)
                    {
                        var (read, stalled, broken) = await FillAsync(stream, next, idle);
                        await pending;
                        if (stalled || broken is not null)
                        {
                            // What came before the stall or the break goes into the partial file: the next pull
                            // continues from there (a 4 MiB buffer would otherwise lose up to 4 MiB of it).
                            if (have + read <= size)
                                WriteInPieces(file.SafeFileHandle, next.AsSpan(0, read), have);
                            broken?.Throw();
                            throw new RegistryException($"blob {digest}: {idle.Describe()} (pull again to resume)");
                        }
                        if (read == 0)
                            break;
                        if (have + read > size)
                        {
                            var mismatch = Mismatch(file, partial, digest, $"the registry sent more than the manifest's {size} bytes{(resume ? "" : Anew)}");
                            throw resumedFrom > 0 ? new ResumedMismatchException(resumedFrom, mismatch) : mismatch;
                        }
                        byte[] full = next;
                        long at = have;
                        pending = Task.Run(() =>
                        {
                            WriteInPieces(file.SafeFileHandle, full.AsSpan(0, read), at);
                            hash.AppendData(full, 0, read);
                        }, ct);
                        have += read;
                        progress?.Invoke(have, size);
                        (next, buffer) = (buffer, full);
                    }
                }
                catch
                {
                    // Let the last write finish, so the partial file ends where its bytes end.
                    try { await pending; } catch (IOException) { } catch (ObjectDisposedException) { }
                    throw;
                }
            }
            if (have != size)
                throw new RegistryException($"blob {digest}: the download ended after {have} of {size} bytes (pull again to resume)");
            string got = Sha256Digest.FromHash(hash.GetHashAndReset());
            if (got != digest)
            {
                var mismatch = Mismatch(file, partial, digest, $"its bytes are {got}{(resume ? "" : Anew)}");
                throw resumedFrom > 0 ? new ResumedMismatchException(resumedFrom, mismatch) : mismatch;
            }
            file.Flush(flushToDisk: false);
            File.Move(partial, blob, overwrite: true);
            complete = true;
            return resumedFrom;
        }
        catch (OperationCanceledException) when (idle.Expired)
        {
            throw new RegistryException($"blob {digest}: {idle.Describe()} (pull again to resume)");
        }
        catch (Exception e) when (e is IOException or HttpRequestException && RegistryClient.IsBrokenConnection(e))
        {
            // What came is in the partial file (the loop lets the last write finish): the next pull continues it.
            throw client.ConnectionClosed($"while sending blob {digest} (pull again to resume)", source);
        }
        catch (HttpRequestException e)
        {
            throw new RegistryException($"blob {digest}: the download broke off: {e.Message.ReplaceLineEndings(" ")} (pull again to resume)");
        }
        catch (IOException e) when (e.InnerException is HttpRequestException or System.Net.Sockets.SocketException)
        {
            throw new RegistryException($"blob {digest}: the download broke off: {e.Message.ReplaceLineEndings(" ")} (pull again to resume)");
        }
        catch (IOException e) when (e.HResult is NoSpace or QuotaExceeded)
        {
            // Kept for a resume, the partial file would hold the space the user now needs: it goes.
            Discard(partial);
            throw new RegistryException($"{partial}: {(e.HResult == NoSpace ? "no space left on the device" : "disk quota exceeded")} " +
                $"for the {size}-byte blob; the partial download was removed");
        }
        finally
        {
            file.Dispose();
            if (complete && !OperatingSystem.IsWindows())
                File.SetUnixFileMode(blob, Executable); // the pulled file's mode: they share the inode
        }
    }

    /// <summary>
    /// Reads until <paramref name="buffer"/> is full or the stream ends; the count read. Each read may wait for the
    /// registry for the idle limit, no longer (the time spent writing and hashing between reads does not count);
    /// Stalled when it waited that long, Broken (what was thrown) when the connection broke, each with what came
    /// before in the buffer.
    /// </summary>
    private static async Task<(int Read, bool Stalled, ExceptionDispatchInfo? Broken)> FillAsync(Stream stream, byte[] buffer, IdleTimer idle)
    {
        int total = 0, n;
        while (true)
        {
            idle.Kick();
            try
            {
                if (total >= buffer.Length || (n = await stream.ReadAsync(buffer.AsMemory(total), idle.Token)) <= 0)
                    return (total, false, null);
            }
            catch (OperationCanceledException) when (idle.Expired)
            {
                return (total, true, null);
            }
            catch (IOException e) when (RegistryClient.IsBrokenConnection(e))
            {
                return (total, false, ExceptionDispatchInfo.Capture(e));
            }
            total += n;
        }
    }

    private const string Anew = " (downloaded anew from byte 0, after the resumed download did not match either)";

    /// <summary>
    /// A download that continued a partial file and did not make the blob (<see cref="Mismatch"/> has removed the
    /// partial file): the pull starts once more from byte 0 rather than fail on bytes it may have kept itself.
    /// </summary>
    private sealed class ResumedMismatchException(long resumedFrom, RegistryException mismatch) : Exception(mismatch.Message, mismatch)
    {
        public long ResumedFrom { get; } = resumedFrom;
    }

    private static RegistryException Mismatch(FileStream file, string partial, string digest, string what)
    {
        file.SetLength(0);
        Discard(partial);
        return new RegistryException($"blob digest mismatch: the manifest says {digest}, {what}", badInput: true);
    }
}
