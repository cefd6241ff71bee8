namespace Xar.Runtime.Signing;

/// <summary>Why a key file holds no minisign key (<see cref="MinisignKeyLine.TryDecode"/>).</summary>
public enum MinisignKeyFault : byte
{
    None,
    NoKeyLine,
    NotBase64,
    NotEd25519,
}

/// <summary>
/// The key line of a minisign key file, public or secret: the first line that is neither empty nor an
/// "untrusted comment:" (a CR before its newline and spaces around it ignored) is the base64 of the key's bytes,
/// which start with the algorithm "Ed". Allocation-free: the launch core reads trusted keys with it.
/// </summary>
public static class MinisignKeyLine
{
    /// <summary>Decodes the key line into <paramref name="raw"/>, which must be exactly as long as the key's bytes.</summary>
    public static MinisignKeyFault TryDecode(ReadOnlySpan<byte> text, Span<byte> raw)
    {
        var lines = new HeaderLines(text);
        while (lines.TryNext(out var line))
        {
            if (line.Length > 0 && line[^1] == '\r')
                line = line[..^1];
            if (line.IsEmpty || line.StartsWith("untrusted comment:"u8))
                continue;
            if (!Base64Text.TryDecodeExact(line.Trim((byte)' '), raw))
                return MinisignKeyFault.NotBase64;
            return raw[0] == 'E' && raw[1] == 'd' ? MinisignKeyFault.None : MinisignKeyFault.NotEd25519;
        }
        return MinisignKeyFault.NoKeyLine;
    }
}
