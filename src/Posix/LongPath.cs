
namespace Xar.Posix;

/// <summary>
/// A path of any length in a form libc's path calls take. The kernel refuses a path of PATH_MAX
/// (4096) bytes or more with ENAMETOOLONG, yet trees hold deeper files (mksquashfs skips them with
/// a warning). Such a path's directory is opened component group by component group, and the call
/// gets <c>/proc/self/fd/N/NAME</c>: the kernel follows that magic link as an ordinary directory
/// and treats NAME as the last component (so l*xattr, O_NOFOLLOW and AT_SYMLINK_NOFOLLOW still act
/// on NAME itself). Shorter paths are passed as they are. Dispose closes the directory.
/// </summary>
public readonly unsafe struct LongPath : IDisposable
{
    /// <summary>PATH_MAX, the NUL included.</summary>
    public const int PathMax = 4096;
    /// <summary>Bytes opened per openat while walking down a long path; well below PATH_MAX.</summary>
    private const int StepLength = 3072;

    private readonly int _ownedFd;
    /// <summary>False for a path passed as it is, and for default(LongPath): nothing to close.</summary>
    private readonly bool _ownsFd;
    private static readonly bool ProcFdAvailable = Directory.Exists("/proc/self/fd");

    private LongPath(int directoryFd, byte[] cString, int ownedFd)
    {
        DirectoryFd = directoryFd;
        CString = cString;
        _ownedFd = ownedFd;
        _ownsFd = ownedFd >= 0;
    }

    /// <summary>The directory descriptor for an *at call (AT_FDCWD for calls that take a plain path).</summary>
    public int DirectoryFd { get; }

    /// <summary>The NUL-terminated path to hand to libc, with <see cref="DirectoryFd"/>.</summary>
    public byte[] CString { get; }

    /// <summary>
    /// <paramref name="path"/> (no NUL) made usable. A relative path starts at
    /// <paramref name="startFd"/>; calls that take a plain path (no directory descriptor) must use
    /// the default, AT_FDCWD. When a directory on the way cannot be opened, the path is left whole,
    /// so the caller's own call fails and reports why.
    /// </summary>
    public static LongPath For(ReadOnlySpan<byte> path, int startFd = LibC.AT_FDCWD)
    {
        if (path.Length < PathMax || !ProcFdAvailable)
            return new LongPath(startFd, NativePath.ToCString(path), -1);
        int slash = path.LastIndexOf((byte)'/');
        ReadOnlySpan<byte> directory = slash < 0 ? "."u8 : slash == 0 ? "/"u8 : path[..slash];
        int fd = OpenDirectory(startFd, directory);
        if (fd < 0)
            return new LongPath(startFd, NativePath.ToCString(path), -1);
        var prefix = System.Text.Encoding.ASCII.GetBytes($"/proc/self/fd/{fd}/");
        var leaf = path[(slash + 1)..];
        var bytes = new byte[prefix.Length + leaf.Length + 1];
        prefix.CopyTo(bytes, 0);
        leaf.CopyTo(bytes.AsSpan(prefix.Length));
        return new LongPath(LibC.AT_FDCWD, bytes, fd);
    }

    /// <summary>
    /// The entry <paramref name="name"/> of an open directory, for calls that take a plain path (the l*xattr calls):
    /// <c>/proc/self/fd/N/NAME</c>, which names the entry in that very directory whatever happened to its path since
    /// it was opened, and is short however deep it lies. Without /proc, <paramref name="fullPath"/> as <see cref="For"/>
    /// makes it usable. The directory stays the caller's.
    /// </summary>
    public static LongPath InDirectory(int directoryFd, ReadOnlySpan<byte> name, ReadOnlySpan<byte> fullPath)
    {
        if (!ProcFdAvailable)
            return For(fullPath);
        Span<byte> prefix = stackalloc byte[32];
        "/proc/self/fd/"u8.CopyTo(prefix);
        int length = 14;
        System.Buffers.Text.Utf8Formatter.TryFormat(directoryFd, prefix[length..], out int digits);
        length += digits;
        prefix[length++] = (byte)'/';
        var bytes = new byte[length + name.Length + 1];
        prefix[..length].CopyTo(bytes);
        name.CopyTo(bytes.AsSpan(length));
        return new LongPath(LibC.AT_FDCWD, bytes, -1);
    }

    public void Dispose()
    {
        if (_ownsFd)
            LibC.Close(_ownedFd);
    }

    /// <summary>Opens <paramref name="directory"/> (O_PATH) below <paramref name="startFd"/> in steps that each fit PATH_MAX; -1 on failure.</summary>
    private static int OpenDirectory(int startFd, ReadOnlySpan<byte> directory)
    {
        int fd = startFd;
        while (!directory.IsEmpty)
        {
            int length = directory.Length;
            if (length > StepLength)
            {
                // Cut after a '/' within the step; a name is at most 255 bytes, so one is always there.
                length = directory[..StepLength].LastIndexOf((byte)'/') + 1;
                if (length <= 0)
                    length = directory.Length;
            }
            int next;
            fixed (byte* p = NativePath.ToCString(directory[..length]))
                next = LibC.OpenAt(fd, p, LibC.O_PATH | LibC.O_DIRECTORY | LibC.O_CLOEXEC, 0);
            if (fd != startFd)
                LibC.Close(fd);
            if (next < 0)
                return -1;
            fd = next;
            directory = directory[length..];
        }
        return fd;
    }
}
