using Xar.Posix;

namespace Xar.Runtime.Launching;

/// <summary>The environment as the process received it (envp), read the way .NET reads it: the first entry wins.</summary>
public readonly unsafe struct ProcessEnvironment(byte** envp)
{
    public const int DefaultMountTimeoutSeconds = 870;

    public byte** Envp { get; } = envp;

    /// <summary>The value of <paramref name="name"/>; IsNull when unset.</summary>
    public NativeText Get(ReadOnlySpan<byte> name)
    {
        if (Envp == null)
            return default;
        for (byte** entry = Envp; *entry != null; entry++)
        {
            byte* text = *entry;
            int i = 0;
            while (i < name.Length && text[i] == name[i])
                i++;
            if (i == name.Length && text[i] == '=')
                return NativeText.FromCString(text + i + 1);
        }
        return default;
    }

    /// <summary>True when <paramref name="name"/> is set to exactly <paramref name="value"/>.</summary>
    public bool Is(ReadOnlySpan<byte> name, ReadOnlySpan<byte> value)
    {
        var text = Get(name);
        return !text.IsNull && text.SequenceEqual(value);
    }

    /// <summary>
    /// The idle timeout of a mount: XAR_MOUNT_TIMEOUT seconds (spaces around it ignored; empty or 0: none),
    /// else the number in /var/lib/xarexec_timeout_override (a file of root's), else 870. False when the
    /// variable is not a number of seconds.
    /// </summary>
    public bool TryMountTimeoutSeconds(out long seconds)
    {
        var text = Get("XAR_MOUNT_TIMEOUT"u8);
        if (!text.IsNull)
            return TryParseSeconds(text, out seconds);
        // Else the machine's override, as Facebook's launcher reads it: a file of root's holding a number; anything else is ignored.
        byte* buffer = stackalloc byte[32];
        int length = ReadRootsFile("/var/lib/xarexec_timeout_override\0"u8, buffer, 32);
        var value = new NativeText(buffer, length < 0 ? 0 : length);
        if (length is > 0 and < 32 && HasDigit(value) && TryParseSeconds(value, out seconds))
            return true;
        seconds = DefaultMountTimeoutSeconds;
        return true;
    }

    private static bool HasDigit(NativeText text)
    {
        for (int i = 0; i < text.Length; i++)
            if (text[i] is >= (byte)'0' and <= (byte)'9')
                return true;
        return false;
    }

    /// <summary>Decimal seconds, surrounding white space allowed (none: 0).</summary>
    private static bool TryParseSeconds(NativeText text, out long seconds)
    {
        seconds = 0;
        int start = 0, end = text.Length;
        while (start < end && IsSpace(text[start]))
            start++;
        while (end > start && IsSpace(text[end - 1]))
            end--;
        if (end - start > 10)
            return false;
        for (int i = start; i < end; i++)
        {
            if (text[i] is < (byte)'0' or > (byte)'9')
                return false;
            seconds = seconds * 10 + (text[i] - '0');
        }
        return seconds <= int.MaxValue;
    }

    /// <summary>A small regular file owned by root, not writable by others: its length read into <paramref name="buffer"/>, else -1.</summary>
    private static int ReadRootsFile(ReadOnlySpan<byte> pathWithNul, byte* buffer, int capacity)
    {
        int fd;
        fixed (byte* path = pathWithNul)
            fd = RawLibC.Open(path, LibC.O_RDONLY | LibC.O_CLOEXEC | LibC.O_NOFOLLOW | LibC.O_NONBLOCK | LibC.O_NOCTTY, 0);
        if (fd < 0)
            return -1;
        LibC.Statx st;
        int total = -1;
        if (TrustedDirectory.Stat(fd, &st) && st.IsRegularFile && st.Uid == 0 && (st.Mode & 0x12) == 0)
        {
            total = 0;
            while (total < capacity)
            {
                nint n = RawLibC.Read(fd, buffer + total, capacity - total);
                if (n < 0 && RawLibC.Errno == LibC.EINTR)
                    continue;
                if (n <= 0)
                    break;
                total += (int)n;
            }
        }
        RawLibC.Close(fd);
        return total;
    }

    private static bool IsSpace(byte c) => c is (byte)' ' or (byte)'\t' or (byte)'\n' or (byte)'\r' or 0x0B or 0x0C;
}
