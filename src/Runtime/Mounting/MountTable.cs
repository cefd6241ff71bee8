using Xar.Posix;

namespace Xar.Runtime;

/// <summary>One line of /proc/self/mounts: where, what file system type, from which source.</summary>
public readonly record struct MountEntry(string Source, string MountPoint, string FileSystemType)
{
    /// <summary>The built-in server's type, squashfuse_ll's or squashfuse's: the types XAR mounts have.</summary>
    public bool IsXarMount => FileSystemType is "fuse.xar" or "fuse.squashfuse_ll" or "fuse.squashfuse";
}

/// <summary>The mounts of this mount namespace.</summary>
public static class MountTable
{
    public static IReadOnlyList<MountEntry> Read()
    {
        var result = new List<MountEntry>();
        // Bytes, not text: a mount point is any bytes (LosslessUtf8 keeps those that are not UTF-8).
        ReadOnlySpan<byte> table = File.ReadAllBytes("/proc/self/mounts");
        Span<Range> fields = stackalloc Range[3];
        foreach (var range in table.Split((byte)'\n'))
        {
            var line = table[range];
            int count = 0;
            foreach (var field in line.Split((byte)' '))
            {
                fields[count++] = field;
                if (count == fields.Length)
                    break;
            }
            if (count == fields.Length)
                result.Add(new MountEntry(Unescape(line[fields[0]]), Unescape(line[fields[1]]), Unescape(line[fields[2]])));
        }
        return result;
    }

    public static MountEntry? Find(string mountPoint)
    {
        foreach (var m in Read())
            if (m.MountPoint == mountPoint)
                return m;
        return null;
    }

    /// <summary>The kernel writes space, tab, newline and backslash in mount fields as \ooo octal escapes.</summary>
    private static string Unescape(ReadOnlySpan<byte> field)
    {
        if (field.IndexOf((byte)'\\') < 0)
            return LosslessUtf8.Decode(field);
        var bytes = new List<byte>(field.Length);
        for (int i = 0; i < field.Length; i++)
        {
            if (field[i] == '\\' && i + 3 < field.Length && IsOctal(field[i + 1]) && IsOctal(field[i + 2]) && IsOctal(field[i + 3]))
            {
                bytes.Add((byte)((field[i + 1] - '0') * 64 + (field[i + 2] - '0') * 8 + (field[i + 3] - '0')));
                i += 3;
            }
            else
            {
                bytes.Add(field[i]);
            }
        }
        return LosslessUtf8.Decode(bytes.ToArray());
    }

    private static bool IsOctal(byte b) => b is >= (byte)'0' and <= (byte)'7';
}
