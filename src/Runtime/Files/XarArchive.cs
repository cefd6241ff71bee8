using Microsoft.Win32.SafeHandles;
using Xar.SquashFs;

namespace Xar.Runtime;

/// <summary>
/// A file that holds a SquashFS image, opened for reading: a XAR file (the image at its header's
/// OFFSET) or a bare image. The header and the image are read through one open descriptor, so
/// both come from the same file even if its path is replaced meanwhile.
/// </summary>
public sealed class XarArchive : IDisposable
{
    private XarArchive(XarHeader? header, SquashFsImage image)
    {
        Header = header;
        Image = image;
    }

    /// <summary>The XAR header; null for a bare image or one opened at an explicit offset.</summary>
    public XarHeader? Header { get; }

    public SquashFsImage Image { get; }

    /// <summary>The size of the whole file, header included.</summary>
    public long FileLength { get; private init; }

    /// <summary>
    /// Opens <paramref name="path"/>: the image at <paramref name="offset"/> when given, else a XAR
    /// file's image (told by its shebang), a bare image at 0, or either appended to an ELF executable.
    /// </summary>
    public static XarArchive Open(string path, long? offset = null)
    {
        ArgumentNullException.ThrowIfNull(path);
        var handle = File.OpenHandle(path, FileMode.Open, FileAccess.Read, FileShare.Read);
        return Open(handle, offset, leaveOpen: false);
    }

    /// <summary>
    /// As <see cref="Open(string, long?)"/>, for a file already open. An ELF executable is read for what is
    /// appended to it: a XAR at its end rounded up to 4096 (a self-contained executable), or a bare image at
    /// its end exactly (a type-2 AppImage) or at that rounded position (<see cref="ElfExtent"/>).
    /// </summary>
    public static XarArchive Open(SafeFileHandle handle, long? offset = null, bool leaveOpen = false)
    {
        ArgumentNullException.ThrowIfNull(handle);
        if (offset is < 0)
            throw new ArgumentOutOfRangeException(nameof(offset), "must not be negative");
        if (offset is not null)
            return Open(handle, archiveOffset: 0, imageOffset: offset, leaveOpen);
        long archiveOffset;
        try
        {
            archiveOffset = LocateArchive(handle);
        }
        catch
        {
            if (!leaveOpen)
                handle.Dispose();
            throw;
        }
        return Open(handle, archiveOffset, imageOffset: null, leaveOpen);
    }

    /// <summary>
    /// The XAR (told by its shebang) or bare image that starts at <paramref name="archiveOffset"/> of an open file:
    /// the header is read there and its OFFSET counts from there (what a self-contained executable holds at its
    /// <see cref="ArchiveOffset"/>).
    /// </summary>
    public static XarArchive OpenAt(SafeFileHandle handle, long archiveOffset, bool leaveOpen = false)
    {
        ArgumentNullException.ThrowIfNull(handle);
        ArgumentOutOfRangeException.ThrowIfNegative(archiveOffset);
        return Open(handle, archiveOffset, imageOffset: null, leaveOpen);
    }

    private static XarArchive Open(SafeFileHandle handle, long archiveOffset, long? imageOffset, bool leaveOpen)
    {
        try
        {
            XarHeader? header = null;
            if (imageOffset is null)
            {
                byte[] start = XarHeaderReader.ReadBytes(handle, archiveOffset);
                if (XarHeader.LooksLikeXar(start))
                    header = XarHeader.Parse(start);
            }
            long at = imageOffset ?? archiveOffset + (header?.Offset ?? 0);
            var image = SquashFsImage.Open(handle, at, leaveOpen: true);
            return new XarArchive(header, image, leaveOpen ? null : handle)
            {
                FileLength = RandomAccess.GetLength(handle),
                ArchiveOffset = imageOffset is null ? archiveOffset : 0,
                _handle = handle,
            };
        }
        catch
        {
            if (!leaveOpen)
                handle.Dispose();
            throw;
        }
    }

    /// <summary>
    /// Where the XAR or bare image starts in the file: 0, or after the ELF executable in front of it.
    /// </summary>
    /// <exception cref="Xar.SquashFs.Format.InvalidArchiveException">An ELF file with nothing readable appended.</exception>
    public static long LocateArchive(SafeFileHandle handle)
    {
        var head = new byte[Math.Max(XarHeader.BytesNeeded, ElfExtent.HeadBytes)];
        int length = XarHeaderReader.ReadAtMost(handle, head, 0);
        if (!ElfExtent.IsElf(head.AsSpan(0, length)))
            return 0;
        long end = ElfExtent.End(head.AsSpan(0, length));
        if (end < 0)
            throw new Xar.SquashFs.Format.InvalidArchiveException("an ELF file whose headers xar cannot read (only little-endian ELF with its program headers in the first 4096 bytes)");
        long xarStart = ElfExtent.XarStart(end);
        var probe = new byte[4];
        if (XarHeaderReader.ReadAtMost(handle, probe, xarStart) >= 2 && XarHeader.LooksLikeXar(probe))
            return xarStart;
        foreach (long candidate in (ReadOnlySpan<long>)[end, xarStart])
            if (XarHeaderReader.ReadAtMost(handle, probe, candidate) == 4 && probe.AsSpan().SequenceEqual("hsqs"u8))
                return candidate;
        long size = RandomAccess.GetLength(handle);
        throw new Xar.SquashFs.Format.InvalidArchiveException(size <= end
            ? "an ELF executable with nothing appended: not a self-contained XAR or AppImage"
            : $"an ELF executable with {size - end} bytes appended at {end} that are neither a XAR (at {xarStart}) nor a SquashFS image: cut short or damaged");
    }

    /// <summary>Where the XAR (or bare image) starts in the file: 0, or the end of the ELF runtime in front of it.</summary>
    public long ArchiveOffset { get; private init; }

    private readonly SafeFileHandle? _ownedHandle;
    private SafeFileHandle _handle = null!;

    /// <summary>The open file the archive is read through (owned by the archive unless opened with leaveOpen).</summary>
    public SafeFileHandle Handle => _handle;

    /// <summary>The SHA-256 of the image: the bytes from its offset to the end of the file, read through the same descriptor.</summary>
    public byte[] HashImage()
    {
        using var sha = System.Security.Cryptography.IncrementalHash.CreateHash(System.Security.Cryptography.HashAlgorithmName.SHA256);
        byte[] buffer = System.Buffers.ArrayPool<byte>.Shared.Rent(1 << 20);
        try
        {
            long position = Image.ImageOffset;
            int n;
            while ((n = RandomAccess.Read(_handle, buffer, position)) > 0)
            {
                sha.AppendData(buffer, 0, n);
                position += n;
            }
        }
        finally
        {
            System.Buffers.ArrayPool<byte>.Shared.Return(buffer);
        }
        return sha.GetHashAndReset();
    }

    private XarArchive(XarHeader? header, SquashFsImage image, SafeFileHandle? ownedHandle)
        : this(header, image) => _ownedHandle = ownedHandle;

    public void Dispose()
    {
        Image.Dispose();
        _ownedHandle?.Dispose();
    }
}
