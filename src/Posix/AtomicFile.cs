using System.Globalization;
using System.Text;
using Microsoft.Win32.SafeHandles;

namespace Xar.Posix;

/// <summary>
/// Replaces a file atomically: readers see the old file or the new one, never a part. The content is
/// written to an unnamed file in the destination's directory (O_TMPFILE), which gets a name only once
/// complete and is then renamed over the destination, so even a process killed by SIGKILL, or a full
/// disk, leaves nothing behind. Where the file system has no unnamed files, a temporary sibling is
/// written instead and deleted on failure.
/// </summary>
public static unsafe class AtomicFile
{
    /// <summary>
    /// Writes <paramref name="destination"/> through <paramref name="write"/>, which gets the
    /// temporary file (seekable, read-write). <paramref name="unixMode"/>: the new file's mode
    /// exactly (the umask does not apply); null: the default mode, less the umask. When
    /// <paramref name="write"/> throws, the destination is left as it was and no temporary file remains.
    /// </summary>
    /// <exception cref="IOException"><paramref name="destination"/> is a directory, or writing failed.</exception>
    public static void Write(string destination, UnixFileMode? unixMode, Action<FileStream> write)
    {
        // Every call below takes the path by its bytes (LosslessUtf8: a name need not be UTF-8); .NET's own file calls would change them.
        string full = NativePath.FullPath(destination);
        string directory = Path.GetDirectoryName(full) ?? ".";
        if (LibC.StatxAt(LibC.AT_FDCWD, full, 0, LibC.STATX_BASIC_STATS, out var existing) == 0 && (existing.Mode & 0xF000) == 0x4000)
            throw new IOException($"{LosslessUtf8.Display(destination)} is a directory");
        string name = Path.GetFileName(full);
        string temp = Path.Combine(directory, $".{name[..Math.Min(name.Length, 200)]}.{Environment.ProcessId}-{Guid.NewGuid().ToString("N")[..8]}.tmp");
        int unnamed = LibC.Open(directory, LibC.O_TMPFILE | LibC.O_RDWR | LibC.O_CLOEXEC, unixMode is { } m0 ? (int)m0 : 0b110_110_110);
        if (unnamed >= 0)
            WriteUnnamed(unnamed, full, temp, unixMode, write);
        else
            WriteNamed(full, temp, unixMode, write);
    }

    private static void WriteUnnamed(int fd, string full, string temp, UnixFileMode? unixMode, Action<FileStream> write)
    {
        // The stream owns the descriptor; the file gets its name before the stream closes it.
        using (var stream = new FileStream(new SafeFileHandle(fd, ownsHandle: true), FileAccess.ReadWrite, 1 << 20))
        {
            write(stream);
            stream.Flush(flushToDisk: false);
            if (unixMode is { } mode && LibC.Fchmod(fd, (uint)mode) != 0) // the umask may have taken bits away
                throw new IOException($"{LosslessUtf8.Display(full)}: cannot set the mode: {LibC.Describe(LibC.LastError)}");
            Name(fd, temp);
        }
        MoveOver(temp, full);
    }

    /// <summary>rename(2) of the finished file over the destination; on failure the temporary file is removed.</summary>
    private static void MoveOver(string temp, string full)
    {
        if (LibC.Rename(temp, full) == 0)
            return;
        int errno = LibC.LastError;
        LibC.Unlink(temp);
        throw new IOException($"{LosslessUtf8.Display(full)}: cannot replace: {LibC.Describe(errno)}");
    }

    /// <summary>Links the unnamed file in as <paramref name="path"/>: through the descriptor itself where allowed, else its /proc link.</summary>
    private static void Name(int fd, string path)
    {
        byte[] target = NativePath.ToCString(path);
        byte[] link = Encoding.ASCII.GetBytes("/proc/self/fd/" + fd.ToString(CultureInfo.InvariantCulture) + "\0");
        byte empty = 0;
        fixed (byte* t = target)
        fixed (byte* l = link)
        {
            // AT_EMPTY_PATH needs CAP_DAC_READ_SEARCH; the /proc link works for everyone where /proc is mounted.
            if (LibC.LinkAt(fd, &empty, LibC.AT_FDCWD, t, LibC.AT_EMPTY_PATH) == 0
                || LibC.LinkAt(LibC.AT_FDCWD, l, LibC.AT_FDCWD, t, LibC.AT_SYMLINK_FOLLOW) == 0)
                return;
        }
        throw new IOException($"{LosslessUtf8.Display(path)}: cannot name the finished file: {LibC.Describe(LibC.LastError)}");
    }

    private static void WriteNamed(string full, string temp, UnixFileMode? unixMode, Action<FileStream> write)
    {
        int fd = LibC.Open(temp, LibC.O_CREAT | LibC.O_EXCL | LibC.O_RDWR | LibC.O_CLOEXEC, unixMode is { } m0 ? (int)m0 : 0b110_110_110);
        if (fd < 0)
            throw new IOException($"{LosslessUtf8.Display(full)}: cannot create a temporary file beside it: {LibC.Describe(LibC.LastError)}");
        try
        {
            using (var stream = new FileStream(new SafeFileHandle(fd, ownsHandle: true), FileAccess.ReadWrite, 1 << 20))
            {
                write(stream);
                stream.Flush(flushToDisk: false);
                if (unixMode is { } mode && LibC.Fchmod(fd, (uint)mode) != 0) // the umask may have taken bits away
                    throw new IOException($"{LosslessUtf8.Display(full)}: cannot set the mode: {LibC.Describe(LibC.LastError)}");
            }
        }
        catch
        {
            LibC.Unlink(temp);
            throw;
        }
        MoveOver(temp, full);
    }
}
