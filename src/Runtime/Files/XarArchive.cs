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
    /// file's image (told by its shebang) or a bare image at 0.
    /// </summary>
    public static XarArchive Open(string path, long? offset = null)
    {
        ArgumentNullException.ThrowIfNull(path);
        var handle = File.OpenHandle(path, FileMode.Open, FileAccess.Read, FileShare.Read);
        return Open(handle, offset, leaveOpen: false);
    }

    /// <summary>As <see cref="Open(string, long?)"/>, for a file already open.</summary>
    public static XarArchive Open(SafeFileHandle handle, long? offset = null, bool leaveOpen = false)
    {
        ArgumentNullException.ThrowIfNull(handle);
        if (offset is < 0)
            throw new ArgumentOutOfRangeException(nameof(offset), "must not be negative");
        try
        {
            XarHeader? header = null;
            if (offset is null)
            {
                var start = new byte[XarHeader.BytesNeeded];
                int length = ReadAtMost(handle, start);
                if (XarHeader.LooksLikeXar(start.AsSpan(0, length)))
                    header = XarHeader.Parse(start.AsSpan(0, length));
            }
            var image = SquashFsImage.Open(handle, offset ?? header?.Offset ?? 0, leaveOpen: true);
            return new XarArchive(header, image, leaveOpen ? null : handle) { FileLength = RandomAccess.GetLength(handle), _handle = handle };
        }
        catch
        {
            if (!leaveOpen)
                handle.Dispose();
            throw;
        }
    }

    private readonly SafeFileHandle? _ownedHandle;
    private SafeFileHandle _handle = null!;

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

    private static int ReadAtMost(SafeFileHandle handle, byte[] buffer)
    {
        int total = 0;
        while (total < buffer.Length)
        {
            int n = RandomAccess.Read(handle, buffer.AsSpan(total), total);
            if (n == 0)
                break;
            total += n;
        }
        return total;
    }

    public void Dispose()
    {
        Image.Dispose();
        _ownedHandle?.Dispose();
    }
}
