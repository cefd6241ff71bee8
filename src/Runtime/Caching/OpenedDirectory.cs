using Xar.Posix;

namespace Xar.Runtime;

/// <summary>
/// A directory held open (O_PATH) and reached as <c>/proc/self/fd/N</c> (<see cref="At"/>): its own name may be any
/// bytes (a <see cref="LosslessUtf8"/> string reaches libc as them, but not .NET's file APIs), while what gc reads and
/// removes inside it has ASCII names, which .NET's file APIs take under <see cref="At"/>. It also stays the directory
/// that was opened, whatever happens to its path meanwhile.
/// </summary>
public sealed class OpenedDirectory : IDisposable
{
    private int _fd;

    private OpenedDirectory(int fd)
    {
        _fd = fd;
        At = "/proc/self/fd/" + fd.ToString(System.Globalization.CultureInfo.InvariantCulture);
    }

    /// <summary>The open directory as a path.</summary>
    public string At { get; }

    /// <summary>The directory at <paramref name="path"/> (symbolic links followed); null when there is none, with the errno.</summary>
    public static OpenedDirectory? TryOpen(string path, out int errno)
    {
        int fd = LibC.Open(path, LibC.O_PATH | LibC.O_DIRECTORY | LibC.O_CLOEXEC, 0);
        errno = fd < 0 ? LibC.LastError : 0;
        return fd < 0 ? null : new OpenedDirectory(fd);
    }

    public void Dispose()
    {
        if (_fd >= 0)
            LibC.Close(_fd);
        _fd = -1;
    }
}
