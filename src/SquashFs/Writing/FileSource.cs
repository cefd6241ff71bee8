using System.Buffers;
using System.Runtime.InteropServices;
using System.Security.Cryptography;
using Microsoft.Win32.SafeHandles;
using Xar.Posix;

namespace Xar.SquashFs.Writing;

/// <summary>A regular file being read: by path (raw bytes, O_NOFOLLOW) or from memory.</summary>
internal sealed unsafe class FileSource : IDisposable
{
    private readonly SafeFileHandle? _handle;
    private readonly byte[]? _content;
    private readonly SourceInode _inode;
    private readonly LibC.Statx _opened;

    private FileSource(SourceInode inode, SafeFileHandle? handle, byte[]? content, LibC.Statx opened)
    {
        _inode = inode;
        _handle = handle;
        _content = content;
        _opened = opened;
    }

    public string Display => _inode.SourcePath is { } p ? LosslessUtf8.Escape(p.AsSpan(0, p.Length - 1)) : "(generated file)";

    public static FileSource Open(SourceInode inode)
    {
        if (inode.Content is not null)
            return new FileSource(inode, null, inode.Content, default);
        var path = inode.SourcePath!;
        int fd, errno = 0;
        // O_NONBLOCK: a FIFO put where the scan saw a regular file must not block open(2) (waiting
        // for a writer forever); the type check below then refuses it. Reads of a regular file ignore the flag.
        const int flags = LibC.O_RDONLY | LibC.O_NONBLOCK | LibC.O_CLOEXEC | LibC.O_NOFOLLOW;
        using (var longPath = LongPath.For(path.AsSpan(0, path.Length - 1)))
        fixed (byte* p = longPath.CString)
        {
            fd = LibC.Open(p, flags | LibC.O_NOATIME, 0);
            if (fd < 0 && Marshal.GetLastPInvokeError() == LibC.EPERM)
                fd = LibC.Open(p, flags, 0); // O_NOATIME needs ownership
            if (fd < 0)
                errno = Marshal.GetLastPInvokeError(); // before the long path's directory is closed
        }
        string display = LosslessUtf8.Escape(path.AsSpan(0, path.Length - 1));
        if (fd < 0)
        {
            throw errno switch
            {
                LibC.ENOENT => new SourceTreeException(display, "changed while packing: it disappeared"),
                LibC.ELOOP => new SourceTreeException(display, "changed while packing: it is now a symbolic link, not the regular file scanned"),
                _ => new SourceTreeException(display, "cannot open: " + LibC.Describe(errno)),
            };
        }
        var handle = new SafeFileHandle(fd, ownsHandle: true);
        var st = StatFd(handle, display);
        string? change = (st.Mode & 0xF000) != 0x8000 ? $"it is now {TypeName(st.Mode)}, not the regular file scanned"
            : st.Ino != inode.SourceIno || st.DevMajor != inode.SourceDevMajor || st.DevMinor != inode.SourceDevMinor ? "it is now another file (another inode)"
            : st.Size != inode.SourceSize || st.Mtime.Seconds * 1_000_000_000 + st.Mtime.Nanoseconds != inode.SourceMtimeNanoseconds ? "its size or modification time differ from the scan"
            : null;
        if (change is not null)
        {
            handle.Dispose();
            throw new SourceTreeException(display, "changed while packing: " + change);
        }
        return new FileSource(inode, handle, null, st);
    }

    private static string TypeName(uint mode) => (mode & 0xF000) switch
    {
        0x1000 => "a FIFO",
        0x2000 => "a character device",
        0x4000 => "a directory",
        0x6000 => "a block device",
        0xC000 => "a socket",
        _ => "of type 0" + Convert.ToString(mode & 0xF000, 8),
    };

    private static LibC.Statx StatFd(SafeFileHandle handle, string display)
    {
        LibC.Statx st;
        byte empty = 0;
        if (LibC.StatxAt((int)handle.DangerousGetHandle(), &empty, LibC.AT_EMPTY_PATH, LibC.STATX_BASIC_STATS, &st) != 0)
            throw new SourceTreeException(display, "cannot stat: " + LibC.Describe(Marshal.GetLastPInvokeError()));
        return st;
    }

    private long _nextData = -1;

    /// <summary>
    /// True when [offset, offset+length) lies in a hole of a sparse file (SEEK_DATA finds no data
    /// there). Asked only of files with fewer allocated blocks than their size.
    /// </summary>
    public bool IsHole(ulong offset, int length)
    {
        if (_handle is null || _opened.Blocks * 512 >= _opened.Size)
            return false;
        long start = (long)offset;
        if (_nextData > start)
            return _nextData >= start + length;
        long next = LibC.LSeek((int)_handle.DangerousGetHandle(), start, LibC.SEEK_DATA);
        if (next < 0)
        {
            if (Marshal.GetLastPInvokeError() != LibC.ENXIO)
                return false; // no SEEK_DATA here: read and test the bytes instead
            next = long.MaxValue; // no data after offset
        }
        _nextData = next;
        return next >= start + length;
    }

    /// <summary>Reads exactly <paramref name="destination"/>.Length bytes at <paramref name="offset"/>; a short file has changed.</summary>
    public void ReadExactly(Span<byte> destination, ulong offset)
    {
        if (_content is not null)
        {
            _content.AsSpan((int)offset, destination.Length).CopyTo(destination);
            return;
        }
        while (!destination.IsEmpty)
        {
            int n;
            try
            {
                n = RandomAccess.Read(_handle!, destination, (long)offset);
            }
            catch (IOException e)
            {
                throw new SourceTreeException(Display, "cannot read: " + e.Message, inner: e);
            }
            if (n == 0)
                throw new SourceTreeException(Display, "changed while it was read (it got shorter)");
            destination = destination[n..];
            offset += (ulong)n;
        }
    }

    public string Hash(int bufferSize, CancellationToken cancel) => Hash(bufferSize, 0, out _, cancel);

    /// <summary>
    /// The content's SHA-256 and, in the same read, that of its first <paramref name="prefixLength"/> bytes
    /// (<paramref name="prefixHash"/>; null when 0).
    /// </summary>
    public string Hash(int bufferSize, ulong prefixLength, out string? prefixHash, CancellationToken cancel)
    {
        prefixHash = null;
        if (_content is not null)
        {
            if (prefixLength > 0)
                prefixHash = Convert.ToBase64String(SHA256.HashData(_content.AsSpan(0, (int)Math.Min(prefixLength, (ulong)_content.Length))));
            return Convert.ToBase64String(SHA256.HashData(_content));
        }
        // One pass: the prefix's hash is the running hash where the prefix ends.
        using var hash = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
        byte[] buffer = ArrayPool<byte>.Shared.Rent(Math.Max(bufferSize, 64 * 1024));
        try
        {
            ulong offset = 0;
            while (offset < _inode.Size)
            {
                cancel.ThrowIfCancellationRequested();
                int n = (int)Math.Min((ulong)buffer.Length, _inode.Size - offset);
                ReadExactly(buffer.AsSpan(0, n), offset);
                int before = offset < prefixLength ? (int)Math.Min((ulong)n, prefixLength - offset) : 0;
                hash.AppendData(buffer, 0, before);
                if (before > 0 && offset + (ulong)before == prefixLength)
                    prefixHash = Convert.ToBase64String(hash.GetCurrentHash());
                hash.AppendData(buffer, before, n - before);
                offset += (ulong)n;
            }
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(buffer);
        }
        return Convert.ToBase64String(hash.GetHashAndReset());
    }

    /// <summary>After the last byte: the file must not have grown or been modified meanwhile.</summary>
    public void CheckUnchanged()
    {
        if (_handle is null)
            return;
        Span<byte> one = stackalloc byte[1];
        if (RandomAccess.Read(_handle, one, (long)_inode.Size) != 0)
            throw new SourceTreeException(Display, "changed while it was read (it grew)");
        var st = StatFd(_handle, Display);
        if (st.Size != _opened.Size || st.Mtime.Seconds != _opened.Mtime.Seconds || st.Mtime.Nanoseconds != _opened.Mtime.Nanoseconds
            || st.Ctime.Seconds != _opened.Ctime.Seconds || st.Ctime.Nanoseconds != _opened.Ctime.Nanoseconds)
            throw new SourceTreeException(Display, "changed while it was read");
    }

    public void Dispose() => _handle?.Dispose();
}
