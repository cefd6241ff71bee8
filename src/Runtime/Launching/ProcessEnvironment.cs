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
    /// else 870. False when the variable is not a number of seconds.
    /// </summary>
    public bool TryMountTimeoutSeconds(out long seconds)
    {
        seconds = 0;
        var text = Get("XAR_MOUNT_TIMEOUT"u8);
        if (text.IsNull)
        {
            seconds = DefaultMountTimeoutSeconds;
            return true;
        }
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

    private static bool IsSpace(byte c) => c is (byte)' ' or (byte)'\t' or (byte)'\n' or (byte)'\r' or 0x0B or 0x0C;
}
