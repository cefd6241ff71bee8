using System.Globalization;
using System.Runtime.InteropServices;

namespace Xar.Posix;

/// <summary>
/// A symbolic link, or another kind of file, where a directory was expected: a walk through
/// <see cref="DirectoryHandle.OpenChild"/> never follows one.
/// </summary>
public sealed class NotADirectoryException(string message) : IOException(message);

/// <summary>
/// An open directory, and the names in it worked on through its descriptor (openat, mkdirat, unlinkat, renameat):
/// whoever can rename or replace the directories on its path cannot move the work elsewhere. Children are opened
/// with O_NOFOLLOW, so a symbolic link planted where a directory or a file is expected is refused, never followed.
/// <see cref="Path"/> is for messages only.
/// </summary>
public sealed unsafe class DirectoryHandle : IDisposable
{
    private const int DirectoryFlags = LibC.O_RDONLY | LibC.O_DIRECTORY | LibC.O_CLOEXEC;

    private DirectoryHandle(int fd, string path)
    {
        Fd = fd;
        Path = path;
    }

    public int Fd { get; private set; }

    /// <summary>The path it was reached by, for messages.</summary>
    public string Path { get; }

    /// <summary>
    /// Opens <paramref name="path"/> as the caller names it (links on the way followed: it is where the caller wants
    /// to be). Null when it does not exist.
    /// </summary>
    /// <exception cref="IOException">It is not a directory, or cannot be opened.</exception>
    public static DirectoryHandle? Open(string path)
    {
        int fd = LibC.Open(path, DirectoryFlags, 0);
        if (fd >= 0)
            return new DirectoryHandle(fd, path);
        int errno = LibC.LastError;
        if (errno == LibC.ENOENT)
            return null;
        throw errno == LibC.ENOTDIR ? new NotADirectoryException($"{LosslessUtf8.Display(path)} is not a directory") : NativePath.Error("open", LosslessUtf8.Encode(path), errno);
    }

    /// <summary>
    /// The directory <paramref name="name"/> (one component) in this one, never through a symbolic link; made with
    /// <paramref name="mode"/> (less the umask) when missing and <paramref name="create"/>, else null when missing.
    /// </summary>
    /// <exception cref="NotADirectoryException"><paramref name="name"/> is a symbolic link or not a directory.</exception>
    public DirectoryHandle? OpenChild(string name, bool create, uint mode = 0b111_101_101)
    {
        string path = System.IO.Path.Join(Path, name);
        byte[] cName = NativePath.ToCString(name);
        fixed (byte* n = cName)
        {
            for (int attempt = 0; ; attempt++)
            {
                int fd = LibC.OpenAt(Fd, n, DirectoryFlags | LibC.O_NOFOLLOW, 0);
                if (fd >= 0)
                    return new DirectoryHandle(fd, path);
                int errno = LibC.LastError;
                if (errno is LibC.ELOOP or LibC.ENOTDIR)
                    throw new NotADirectoryException(Kind(name) == LibC.S_IFLNK
                        ? $"{LosslessUtf8.Display(path)} is a symbolic link, not a directory: not followed"
                        : $"{LosslessUtf8.Display(path)} is not a directory");
                if (errno != LibC.ENOENT)
                    throw NativePath.Error("open", LosslessUtf8.Encode(path), errno);
                if (!create)
                    return null;
                // Made by someone else in between (EEXIST): open it again, once.
                if (LibC.MkdirAt(Fd, n, mode) != 0 && (LibC.LastError != LibC.EEXIST || attempt > 0))
                    throw NativePath.Error("create", LosslessUtf8.Encode(path), LibC.LastError);
            }
        }
    }

    /// <summary>The type bits (S_IFMT) of <paramref name="name"/> itself (a link not followed); 0 when it does not exist.</summary>
    public uint Kind(string name)
    {
        fixed (byte* n = NativePath.ToCString(name))
        {
            LibC.Statx status;
            return LibC.StatxAt(Fd, n, LibC.AT_SYMLINK_NOFOLLOW, LibC.STATX_BASIC_STATS, &status) == 0 ? status.Type : 0;
        }
    }

    /// <summary>The names in the directory ("." and ".." left out), each with its type (DT_* of the directory entry).</summary>
    public List<(string Name, byte Type)> Entries()
    {
        // fdopendir takes the descriptor over: give it a copy, so this one stays open.
        int copy = LibC.Fcntl(Fd, LibC.F_DUPFD_CLOEXEC, 0);
        if (copy < 0)
            throw NativePath.Error("list", LosslessUtf8.Encode(Path), LibC.LastError);
        nint dir = LibC.FdOpenDir(copy);
        if (dir == 0)
        {
            int errno = LibC.LastError;
            LibC.Close(copy);
            throw NativePath.Error("list", LosslessUtf8.Encode(Path), errno);
        }
        var entries = new List<(string, byte)>();
        try
        {
            // Listing from the start, whatever an earlier listing through the shared file offset left.
            LibC.LSeek(copy, 0, LibC.SEEK_SET);
            for (byte* entry; (entry = LibC.ReadDir(dir)) != null;)
            {
                var name = MemoryMarshal.CreateReadOnlySpanFromNullTerminated(entry + LibC.DirentNameOffset);
                if (!name.SequenceEqual("."u8) && !name.SequenceEqual(".."u8))
                    entries.Add((LosslessUtf8.Decode(name), entry[LibC.DirentTypeOffset]));
            }
        }
        finally
        {
            LibC.CloseDir(dir);
        }
        return entries;
    }

    /// <summary>
    /// The bytes of the regular file <paramref name="name"/>; null when there is none (missing, a symbolic link, not a
    /// regular file) or it is larger than <paramref name="maxBytes"/>.
    /// </summary>
    public byte[]? ReadFile(string name, int maxBytes)
    {
        int fd;
        fixed (byte* n = NativePath.ToCString(name))
            fd = LibC.OpenAt(Fd, n, LibC.O_RDONLY | LibC.O_NOFOLLOW | LibC.O_NONBLOCK | LibC.O_CLOEXEC, 0);
        if (fd < 0)
            return null;
        using var handle = new Microsoft.Win32.SafeHandles.SafeFileHandle(fd, ownsHandle: true);
        if (LibC.FStatx(fd, out var status) != 0 || !status.IsRegularFile || status.Size > (ulong)maxBytes)
            return null;
        using var stream = new FileStream(handle, FileAccess.Read, 0);
        using var bytes = new MemoryStream();
        stream.CopyTo(bytes);
        return bytes.Length <= maxBytes ? bytes.ToArray() : null;
    }

    /// <summary>
    /// Replaces <paramref name="name"/> with a file of <paramref name="bytes"/> and exactly <paramref name="mode"/>: written
    /// to a new temporary name in this directory, then renamed over it, so readers see the old file or the new one. What
    /// was there (a symbolic link included) is replaced, never written through.
    /// </summary>
    public void WriteFile(string name, uint mode, ReadOnlySpan<byte> bytes)
    {
        string path = System.IO.Path.Join(Path, name);
        string temp = $".{name[..Math.Min(name.Length, 200)]}.{Environment.ProcessId.ToString(CultureInfo.InvariantCulture)}-{Guid.NewGuid().ToString("N")[..8]}.tmp";
        byte[] cTemp = NativePath.ToCString(temp);
        byte[] cName = NativePath.ToCString(name);
        fixed (byte* t = cTemp)
        fixed (byte* n = cName)
        {
            int fd = LibC.OpenAt(Fd, t, LibC.O_CREAT | LibC.O_EXCL | LibC.O_WRONLY | LibC.O_NOFOLLOW | LibC.O_CLOEXEC, mode);
            if (fd < 0)
                throw new IOException($"{LosslessUtf8.Display(path)}: cannot create a temporary file beside it: {LibC.Describe(LibC.LastError)}");
            try
            {
                using (var handle = new Microsoft.Win32.SafeHandles.SafeFileHandle(fd, ownsHandle: true))
                {
                    RandomAccess.Write(handle, bytes, 0);
                    if (LibC.Fchmod(fd, mode) != 0) // the umask may have taken bits away
                        throw new IOException($"{LosslessUtf8.Display(path)}: cannot set the mode: {LibC.Describe(LibC.LastError)}");
                }
                if (LibC.RenameAt2(Fd, t, Fd, n, 0) != 0)
                    throw new IOException($"{LosslessUtf8.Display(path)}: cannot replace: {LibC.Describe(LibC.LastError)}");
            }
            catch
            {
                LibC.UnlinkAt(Fd, t, 0);
                throw;
            }
        }
    }

    /// <summary>Removes the name <paramref name="name"/> (a file or a link, never what a link leads to); false when there was none.</summary>
    public bool Delete(string name)
    {
        fixed (byte* n = NativePath.ToCString(name))
        {
            if (LibC.UnlinkAt(Fd, n, 0) == 0)
                return true;
            int errno = LibC.LastError;
            if (errno == LibC.ENOENT)
                return false;
            throw NativePath.Error("remove", LosslessUtf8.Encode(System.IO.Path.Join(Path, name)), errno);
        }
    }

    /// <summary>Sets the directory's modification time to now (icon themes notice changes by it).</summary>
    public void Touch()
    {
        // Both times "now": futimens with a null array.
        if (LibC.Futimens(Fd, null) != 0)
            throw NativePath.Error("touch", LosslessUtf8.Encode(Path), LibC.LastError);
    }

    public void Dispose()
    {
        if (Fd >= 0)
            LibC.Close(Fd);
        Fd = -1;
    }
}
