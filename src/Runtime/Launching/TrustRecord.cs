using Xar.Posix;
using static Xar.Posix.RawLibC;

namespace Xar.Runtime.Launching;

/// <summary>
/// Under a trust policy, which files a mount or cache entry may serve without hashing them again, kept in its lock
/// file (after the lines of <see cref="CacheEntryRecord"/>):
/// <code>
/// verified KEYID DEV_MAJOR:DEV_MINOR INO SIZE MTIME.NS CTIME.NS
/// </code>
/// one line per file whose signature by trusted key KEYID (16 hex digits, as stored) was checked over its whole
/// image and header. A file keeps its device, inode, size and times only while nobody writes it (any write, chmod,
/// rename or link moves its ctime, which no user can set), so a listed file is still the file that was checked,
/// header and image alike. A mount's lock file is rewritten when the mount is made, so its lines also say the mount
/// was made from a checked file. Allocation-free, for the launch core.
/// </summary>
public static unsafe class TrustRecord
{
    public const int LineCapacity = CacheEntryRecord.LineCapacity + 32;

    /// <summary><c>\nverified KEYID DEV INO SIZE MTIME CTIME\n</c> for the file open as <paramref name="fd"/>; its length, or 0.</summary>
    public static int FormatLine(int fd, ReadOnlySpan<byte> keyId, byte* buffer)
    {
        byte* fileLine = stackalloc byte[CacheEntryRecord.LineCapacity];
        int fileLength = CacheEntryRecord.FormatFileLine(fd, fileLine);
        if (fileLength <= 6)
            return 0;
        var line = new PathBuilder(buffer, LineCapacity);
        line.Append("\nverified "u8);
        foreach (byte b in keyId)
        {
            line.Append("0123456789abcdef"u8[b >> 4]);
            line.Append("0123456789abcdef"u8[b & 15]);
        }
        // The file line without its "\nfile" word: " DEV INO SIZE MTIME CTIME\n".
        line.Append(new NativeText(fileLine + 5, fileLength - 5));
        return line.Fits ? line.Length : 0;
    }

    /// <summary>Whether the record in <paramref name="lockFd"/> holds the line.</summary>
    public static bool Lists(int lockFd, byte* line, int length)
    {
        if (length <= 0)
            return false;
        byte* text = stackalloc byte[CacheEntryRecord.ReadCapacity];
        int total = CacheEntryRecord.ReadAll(lockFd, text, CacheEntryRecord.ReadCapacity);
        return CacheEntryRecord.IndexOf(new NativeText(text, total), new NativeText(line, length)) >= 0;
    }

    /// <summary>Whether the record lists any checked file (a mount's: it was made from one).</summary>
    public static bool ListsAny(int lockFd)
    {
        byte* text = stackalloc byte[CacheEntryRecord.ReadCapacity];
        int total = CacheEntryRecord.ReadAll(lockFd, text, CacheEntryRecord.ReadCapacity);
        fixed (byte* word = "\nverified "u8)
            return CacheEntryRecord.IndexOf(new NativeText(text, total), new NativeText(word, 10)) >= 0;
    }

    /// <summary>Appends the line (one write, O_APPEND: launches holding the lock shared do not mix lines); a full record is not grown.</summary>
    public static void Append(int lockFd, byte* line, int length)
    {
        LibC.Statx st;
        if (length <= 1 || !TrustedDirectory.Stat(lockFd, &st) || (long)st.Size + length > CacheEntryRecord.ReadCapacity)
            return;
        // A record that ends with its newline takes the line without the leading one.
        byte last = 0;
        if (st.Size > 0)
            Pread(lockFd, &last, 1, (long)st.Size - 1);
        int skip = last == '\n' ? 1 : 0;
        int flags = Fcntl(lockFd, LibC.F_GETFL, 0);
        if (flags < 0 || Fcntl(lockFd, LibC.F_SETFL, flags | LibC.O_APPEND) < 0)
            return;
        Write(lockFd, line + skip, length - skip);
        Fcntl(lockFd, LibC.F_SETFL, flags);
    }
}
