using System.Text;

namespace Xar.Tests;

/// <summary>
/// Relative paths of a tree as the tree comparer keeps them: the raw bytes as a Latin-1 string
/// (one char per byte, so every name survives and ordinal order is byte order), "" for the top.
/// </summary>
internal static class RawPath
{
    public static string FromBytes(ReadOnlySpan<byte> bytes) => Encoding.Latin1.GetString(bytes);

    public static byte[] ToBytes(string path) => Encoding.Latin1.GetBytes(path);

    public static string Join(string directory, string name) => directory.Length == 0 ? name : directory + "/" + name;

    public static string Parent(string path)
    {
        int slash = path.LastIndexOf('/');
        return slash < 0 ? "" : path[..slash];
    }

    /// <summary>Depth-first order: a directory, then everything under it, names in byte order.</summary>
    public static readonly IComparer<string> TreeOrder = Comparer<string>.Create(static (a, b) =>
    {
        int n = Math.Min(a.Length, b.Length);
        for (int i = 0; i < n; i++)
        {
            if (a[i] == b[i])
                continue;
            if (a[i] == '/')
                return -1;
            if (b[i] == '/')
                return 1;
            return a[i] - b[i];
        }
        return a.Length - b.Length;
    });

    /// <summary>One printable line for a path: UTF-8 kept, \\ \n \t and \xNN for the rest; "." for the top.</summary>
    public static string Show(string path) => path.Length == 0 ? "." : ShowBytes(ToBytes(path));

    public static string ShowBytes(ReadOnlySpan<byte> bytes)
    {
        var s = new StringBuilder(bytes.Length);
        while (!bytes.IsEmpty)
        {
            if (Rune.DecodeFromUtf8(bytes, out Rune rune, out int used) != System.Buffers.OperationStatus.Done)
            {
                s.Append($"\\x{bytes[0]:x2}");
                bytes = bytes[1..];
                continue;
            }
            if (rune.Value == '\\')
                s.Append("\\\\");
            else if (rune.Value == '\n')
                s.Append("\\n");
            else if (rune.Value == '\t')
                s.Append("\\t");
            else if (Rune.IsControl(rune))
            {
                foreach (byte b in bytes[..used])
                    s.Append($"\\x{b:x2}");
            }
            else
                s.Append(rune.ToString());
            bytes = bytes[used..];
        }
        return s.ToString();
    }

    /// <summary>An xattr value: "text" when it is printable UTF-8, else 0x and its bytes in hex (exact either way).</summary>
    public static string ShowValue(ReadOnlySpan<byte> value)
    {
        try
        {
            string text = new UTF8Encoding(false, throwOnInvalidBytes: true).GetString(value);
            if (!text.Any(char.IsControl))
                return "\"" + text + "\"";
        }
        catch (DecoderFallbackException)
        {
        }
        return "0x" + Convert.ToHexStringLower(value);
    }
}
