using System.Text;

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
        foreach (string line in File.ReadAllLines("/proc/self/mounts"))
        {
            var fields = line.Split(' ');
            if (fields.Length >= 3)
                result.Add(new MountEntry(Unescape(fields[0]), Unescape(fields[1]), Unescape(fields[2])));
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
    private static string Unescape(string field)
    {
        if (!field.Contains('\\'))
            return field;
        var bytes = new List<byte>(field.Length);
        var raw = Encoding.UTF8.GetBytes(field);
        for (int i = 0; i < raw.Length; i++)
        {
            if (raw[i] == '\\' && i + 3 < raw.Length + 0 && IsOctal(raw[i + 1]) && IsOctal(raw[i + 2]) && IsOctal(raw[i + 3]))
            {
                bytes.Add((byte)((raw[i + 1] - '0') * 64 + (raw[i + 2] - '0') * 8 + (raw[i + 3] - '0')));
                i += 3;
            }
            else
            {
                bytes.Add(raw[i]);
            }
        }
        return Encoding.UTF8.GetString(bytes.ToArray());
    }

    private static bool IsOctal(byte b) => b is >= (byte)'0' and <= (byte)'7';
}
