using Xar.Posix;
using static Xar.Posix.RawLibC;

namespace Xar.Runtime.Launching;

/// <summary>
/// What a cache entry was extracted from, kept in its lock file after the XAR path (<see cref="LaunchCore.RecordXarFile"/>):
/// <code>
/// PATH
/// image xxh128:HEX                                   the image's bytes (OFFSET to the end of the file)
/// file DEV_MAJOR:DEV_MINOR INO SIZE MTIME.NS CTIME.NS a file known to hold that image, one line each
/// </code>
/// A launch from a file listed there uses the entry at once (<see cref="Check"/>, before the runtime starts);
/// from any other file, the launcher hashes that file's image first and runs the entry only when it is the
/// same image (then lists the file). So two images under one UUID (a file rewritten in place, a deploy
/// swapping versions mid-extraction, a tool that reuses UUIDs) never run each other's code.
/// </summary>
public static unsafe class CacheEntryRecord
{
    public const int LineCapacity = 160;
    /// <summary>How much of the lock file is read: the path, the image line and some dozens of files.</summary>
    public const int ReadCapacity = 8192;

    public enum State : byte
    {
        /// <summary>The file is listed: this entry holds its image.</summary>
        Listed,
        /// <summary>The entry records an image, and this file is not listed: its image must be hashed and compared.</summary>
        Unlisted,
        /// <summary>The entry records no image (made by an earlier version): used as it is.</summary>
        NoRecord,
    }

    /// <summary>Whether <paramref name="xarFd"/> is a file the entry's record lists.</summary>
    public static State Check(int lockFd, int xarFd)
    {
        byte* text = stackalloc byte[ReadCapacity];
        int length = ReadAll(lockFd, text, ReadCapacity);
        var all = new NativeText(text, length < 0 ? 0 : length);
        if (IndexOf(all, "\nimage "u8) < 0)
            return State.NoRecord;
        byte* line = stackalloc byte[LineCapacity];
        int lineLength = FormatFileLine(xarFd, line);
        if (lineLength <= 0)
            return State.Unlisted;
        return IndexOf(all, new NativeText(line, lineLength)) >= 0 ? State.Listed : State.Unlisted;
    }

    /// <summary>
    /// The line naming the file open as <paramref name="fd"/> (with its newline, and the one before it so that it
    /// matches only whole lines): <c>\nfile DEV INO SIZE MTIME CTIME\n</c>. Its length, or 0 when it cannot be told.
    /// </summary>
    public static int FormatFileLine(int fd, byte* buffer)
    {
        LibC.Statx st;
        if (!TrustedDirectory.Stat(fd, &st))
            return 0;
        var line = new PathBuilder(buffer, LineCapacity);
        line.Append("\nfile "u8);
        line.AppendDecimal(st.DevMajor);
        line.Append((byte)':');
        line.AppendDecimal(st.DevMinor);
        line.Append((byte)' ');
        line.AppendDecimal(st.Ino);
        line.Append((byte)' ');
        line.AppendDecimal(st.Size);
        AppendTime(ref line, st.Mtime);
        AppendTime(ref line, st.Ctime);
        line.Append((byte)'\n');
        return line.Fits ? line.Length : 0;
    }

    private static void AppendTime(ref PathBuilder line, LibC.StatxTimestamp time)
    {
        line.Append((byte)' ');
        if (time.Seconds < 0)
            line.Append((byte)'-');
        line.AppendDecimal((ulong)Math.Abs(time.Seconds));
        line.Append((byte)'.');
        line.AppendDecimal(time.Nanoseconds);
    }

    /// <summary>Up to <paramref name="capacity"/> bytes of a lock file from its start (TrustRecord reads its lines too).</summary>
    internal static int ReadAll(int fd, byte* buffer, int capacity)
    {
        int total = 0;
        while (total < capacity)
        {
            nint n = Pread(fd, buffer + total, capacity - total, total);
            if (n < 0 && Errno == LibC.EINTR)
                continue;
            if (n <= 0)
                break;
            total += (int)n;
        }
        return total;
    }

    private static int IndexOf(NativeText text, ReadOnlySpan<byte> value)
    {
        for (int i = 0; i + value.Length <= text.Length; i++)
            if (text.Slice(i, value.Length).SequenceEqual(value))
                return i;
        return -1;
    }

    internal static int IndexOf(NativeText text, NativeText value)
    {
        for (int i = 0; i + value.Length <= text.Length; i++)
            if (text.Slice(i, value.Length).SequenceEqual(value))
                return i;
        return -1;
    }
}
