using System.Text;
using Xar.Posix;

namespace Xar.Posix;

/// <summary>Helpers for byte names and errno → exception.</summary>
public static class NativePath
{
    /// <summary>The bytes plus a NUL, for libc.</summary>
    public static byte[] ToCString(ReadOnlySpan<byte> bytes)
    {
        var b = new byte[bytes.Length + 1];
        bytes.CopyTo(b);
        return b;
    }

    public static byte[] ToCString(string path) => ToCString(LosslessUtf8.Encode(path));

    /// <summary>DIR/NAME; just NAME when DIR is empty, no second '/' when DIR ends in one ("/").</summary>
    public static byte[] Join(ReadOnlySpan<byte> dir, ReadOnlySpan<byte> name)
    {
        if (dir.IsEmpty)
            return name.ToArray();
        int separator = dir[^1] == (byte)'/' ? 0 : 1;
        var b = new byte[dir.Length + separator + name.Length];
        dir.CopyTo(b);
        if (separator == 1)
            b[dir.Length] = (byte)'/';
        name.CopyTo(b.AsSpan(dir.Length + separator));
        return b;
    }

    /// <summary>A name for messages: UTF-8 where it is, \xNN escapes for other bytes.</summary>
    public static string Display(ReadOnlySpan<byte> bytes)
    {
        var sb = new StringBuilder(bytes.Length);
        int i = 0;
        while (i < bytes.Length)
        {
            if (Rune.DecodeFromUtf8(bytes[i..], out var rune, out int used) == System.Buffers.OperationStatus.Done && !Rune.IsControl(rune))
            {
                sb.Append(rune.ToString());
                i += used;
            }
            else
            {
                sb.Append($"\\x{bytes[i]:x2}");
                i++;
            }
        }
        return sb.ToString();
    }

    public static IOException Error(string operation, ReadOnlySpan<byte> path, int errno) =>
        new($"cannot {operation} {Display(path)}: {LibC.Describe(errno)}");
}
