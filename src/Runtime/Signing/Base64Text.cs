namespace Xar.Runtime.Signing;

/// <summary>
/// Standard base64 (with '=' padding, as minisign writes it) decoded without allocating, for the launch core,
/// which reads key ids from key files and headers before the .NET runtime starts.
/// </summary>
public static class Base64Text
{
    /// <summary>Decodes all of <paramref name="text"/> into <paramref name="output"/>; false unless it is exactly that many bytes of valid base64.</summary>
    public static bool TryDecodeExact(ReadOnlySpan<byte> text, Span<byte> output)
    {
        if (text.Length == 0 || text.Length % 4 != 0)
            return false;
        int padding = text[^1] == '=' ? text[^2] == '=' ? 2 : 1 : 0;
        if (text.Length / 4 * 3 - padding != output.Length)
            return false;
        int written = 0;
        for (int i = 0; i < text.Length; i += 4)
        {
            int a = Value(text[i]), b = Value(text[i + 1]);
            bool last = i + 4 == text.Length;
            int c = last && padding == 2 ? 0 : Value(text[i + 2]);
            int d = last && padding >= 1 ? 0 : Value(text[i + 3]);
            if ((a | b | c | d) < 0)
                return false;
            int group = (a << 18) | (b << 12) | (c << 6) | d;
            output[written++] = (byte)(group >> 16);
            if (written < output.Length)
                output[written++] = (byte)(group >> 8);
            else if ((group & 0xFFFF) != 0)
                return false; // bits past the end: not canonical
            if (written < output.Length)
                output[written++] = (byte)group;
            else if (last && padding == 1 && (group & 0xFF) != 0)
                return false;
        }
        return true;
    }

    private static int Value(byte c) => c switch
    {
        >= (byte)'A' and <= (byte)'Z' => c - 'A',
        >= (byte)'a' and <= (byte)'z' => c - 'a' + 26,
        >= (byte)'0' and <= (byte)'9' => c - '0' + 52,
        (byte)'+' => 62,
        (byte)'/' => 63,
        _ => -1,
    };
}
