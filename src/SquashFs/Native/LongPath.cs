namespace Xar.SquashFs.Native;

/// <summary>
/// A path of any length in a form libc's path calls take. The kernel refuses a path of PATH_MAX
/// (4096) bytes or more with ENAMETOOLONG, yet trees hold deeper files (mksquashfs skips them with
/// a warning). Such a path's directory is opened component group by component group, and the call
/// gets <c>/proc/self/fd/N/NAME</c>: the kernel follows that magic link as an ordinary directory
/// and treats NAME as the last component (so l*xattr, O_NOFOLLOW and AT_SYMLINK_NOFOLLOW still act
/// on NAME itself). Shorter paths are passed as they are. Dispose closes the directory.
/// </summary>
internal readonly unsafe struct LongPath : IDisposable
{
    /// <summary>PATH_MAX, the NUL included.</summary>
    public const int PathMax = 4096;
    /// <summary>Bytes opened per openat while walking down a long path; well below PATH_MAX.</summary>
    private const int StepLength = 3072;

    private readonly int _directoryFd;
    /// <summary>False for a path passed as it is, and for default(LongPath): nothing to close.</summary>
    private readonly bool _ownsDirectory;
    private static readonly bool ProcFdAvailable = Directory.Exists("/proc/self/fd");

    private LongPath(byte[] cString, int directoryFd)
    {
        CString = cString;
        _directoryFd = directoryFd;
        _ownsDirectory = directoryFd >= 0;
    }

    /// <summary>The NUL-terminated path to hand to libc.</summary>
    public byte[] CString { get; }

    /// <summary>
    /// <paramref name="path"/> (no NUL) made usable by a call that resolves it against AT_FDCWD. A
    /// relative path starts at <paramref name="startFd"/> (AT_FDCWD: the working directory). When
    /// a directory on the way cannot be opened, the path is left whole (under startFd), so the
    /// caller's own call fails and reports why.
    /// </summary>
    public static LongPath For(ReadOnlySpan<byte> path, int startFd = LibC.AtFdCwd)
    {
        bool direct = startFd == LibC.AtFdCwd || (path.Length > 0 && path[0] == (byte)'/');
        if ((path.Length < PathMax && direct) || !ProcFdAvailable)
            return new LongPath(direct ? ToCString(path) : Below(startFd, path), -1);
        int slash = path.LastIndexOf((byte)'/');
        ReadOnlySpan<byte> directory = slash < 0 ? [] : slash == 0 ? "/"u8 : path[..slash];
        int fd = OpenDirectory(startFd, directory);
        if (fd < 0)
            return new LongPath(direct ? ToCString(path) : Below(startFd, path), -1);
        return new LongPath(Below(fd, path[(slash + 1)..]), fd);
    }

    /// <summary>/proc/self/fd/FD/PATH, NUL-terminated: PATH resolved below the directory FD.</summary>
    private static byte[] Below(int fd, ReadOnlySpan<byte> path)
    {
        var prefix = System.Text.Encoding.ASCII.GetBytes($"/proc/self/fd/{fd}/");
        var bytes = new byte[prefix.Length + path.Length + 1];
        prefix.CopyTo(bytes, 0);
        path.CopyTo(bytes.AsSpan(prefix.Length));
        return bytes;
    }

    public void Dispose()
    {
        if (_ownsDirectory)
            LibC.Close(_directoryFd);
    }

    /// <summary>Opens <paramref name="directory"/> (O_PATH) below <paramref name="startFd"/> in steps that each fit PATH_MAX; -1 on failure.</summary>
    private static int OpenDirectory(int startFd, ReadOnlySpan<byte> directory)
    {
        int fd = startFd;
        if (directory.IsEmpty)
            directory = "."u8;
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
            fixed (byte* p = ToCString(directory[..length]))
                next = LibC.OpenAt(fd, p, LibC.O_PATH | LibC.O_DIRECTORY | LibC.OCloExec, 0);
            if (fd != startFd)
                LibC.Close(fd);
            if (next < 0)
                return -1;
            fd = next;
            directory = directory[length..];
        }
        return fd == startFd ? -1 : fd;
    }

    private static byte[] ToCString(ReadOnlySpan<byte> bytes)
    {
        var b = new byte[bytes.Length + 1];
        bytes.CopyTo(b);
        return b;
    }
}
