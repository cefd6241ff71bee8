using Microsoft.Win32.SafeHandles;
using Xar.Posix;

namespace Xar.Packer.Cli;

/// <summary>
/// A small file named by an option (a sort file, a desktop file, an icon), read whole: a regular file (a link to one
/// counts), checked on the descriptor that is read, and no larger than the caller allows. A FIFO, a device or
/// /dev/zero is refused at once (bad input), instead of blocking the open or filling memory.
/// </summary>
public static class GivenFile
{
    /// <param name="path">The file (a lossless string, <see cref="LosslessUtf8"/>, is read by its bytes).</param>
    /// <param name="what">How messages name it ("--sort", "--desktop-file: ").</param>
    /// <exception cref="UsageException">Missing, a directory, not a regular file, or too large.</exception>
    public static byte[] Read(string path, string what, long maxBytes)
    {
        var (handle, st) = Open(path, what);
        using (handle)
        {
            if ((long)st.Size > maxBytes)
                throw new UsageException($"{what}: larger than {maxBytes >> 20} MiB", LosslessUtf8.Display(path));
            return ReadAll(handle, st.Size);
        }
    }

    /// <summary>
    /// Opens a file an option names by its bytes (O_NONBLOCK, so a FIFO cannot block the open) and checks on that
    /// descriptor that it is a regular file: the handle to read it through and its status.
    /// </summary>
    /// <param name="isADirectory">The words for a directory, after "<paramref name="what"/>: ".</param>
    /// <exception cref="UsageException">Missing, a directory, or not a regular file.</exception>
    public static (SafeFileHandle Handle, LibC.Statx Status) Open(string path, string what, string isADirectory = "is a directory")
    {
        string shown = LosslessUtf8.Display(path);
        int fd = LibC.Open(path, LibC.O_RDONLY | LibC.O_NONBLOCK | LibC.O_CLOEXEC, 0);
        if (fd < 0)
        {
            int errno = LibC.LastError;
            throw new UsageException(errno is LibC.ENOENT or LibC.ENOTDIR ? $"{what}: no such file"
                : errno == LibC.EISDIR ? $"{what}: {isADirectory}" : $"{what}: cannot open: {LibC.Describe(errno)}", shown);
        }
        var handle = new SafeFileHandle(fd, ownsHandle: true);
        string? problem = LibC.FStatx(fd, out var st) != 0 ? $"{what}: cannot stat: {LibC.Describe(LibC.LastError)}"
            : (st.Mode & 0xF000) == 0x4000 ? $"{what}: {isADirectory}"
            : !st.IsRegularFile ? $"{what}: is not a regular file"
            : null;
        if (problem is not null)
        {
            handle.Dispose();
            throw new UsageException(problem, shown);
        }
        return (handle, st);
    }

    /// <summary>The <paramref name="size"/> bytes (checked small) of a file open as <paramref name="handle"/>; fewer when it shrank meanwhile.</summary>
    public static byte[] ReadAll(SafeFileHandle handle, ulong size)
    {
        var bytes = new byte[(int)size];
        int total = 0;
        while (total < bytes.Length && RandomAccess.Read(handle, bytes.AsSpan(total), total) is int n and > 0)
            total += n;
        return total == bytes.Length ? bytes : bytes[..total];
    }
}
