namespace Xar.Runtime.Signing;

/// <summary>
/// A minisign public key: the file <c>minisign -G</c> writes (an "untrusted comment:" line, then the base64 of
/// "Ed", the 8-byte key id and the 32-byte Ed25519 key), or that base64 line alone (as <c>minisign -P</c> takes it).
/// </summary>
public sealed class MinisignPublicKey
{
    public const int KeyIdLength = 8, KeyLength = 32, EncodedLength = 2 + KeyIdLength + KeyLength;

    private MinisignPublicKey(byte[] keyId, byte[] key)
    {
        KeyId = keyId;
        Key = key;
    }

    public byte[] KeyId { get; }
    public byte[] Key { get; }

    public static MinisignPublicKey FromParts(ReadOnlySpan<byte> keyId, ReadOnlySpan<byte> key) =>
        keyId.Length == KeyIdLength && key.Length == KeyLength ? new(keyId.ToArray(), key.ToArray()) : throw new ArgumentException("a key id is 8 bytes and a key 32");

    /// <summary>The key id as minisign prints it: 16 upper-case hex digits of the little-endian number.</summary>
    public string KeyIdText => FormatKeyId(KeyId);

    /// <summary>The key id as minisign prints it (its little-endian number in upper-case hex, without leading zeros).</summary>
    public static string FormatKeyId(ReadOnlySpan<byte> keyId)
    {
        Span<byte> text = stackalloc byte[2 * KeyIdLength];
        return System.Text.Encoding.ASCII.GetString(text[..WriteKeyId(keyId, text)]);
    }

    /// <summary>
    /// <see cref="FormatKeyId"/> into <paramref name="destination"/> (at least 16 bytes), without allocating: the launch
    /// core's messages use it before the runtime starts. Returns the length written.
    /// </summary>
    public static int WriteKeyId(ReadOnlySpan<byte> keyId, Span<byte> destination)
    {
        int length = 0;
        for (int n = 2 * keyId.Length - 1; n >= 0; n--)
        {
            int digit = (keyId[n / 2] >> (n % 2 == 1 ? 4 : 0)) & 15; // the highest digit first: byte 7's high half
            if (length > 0 || digit != 0 || n == 0)
                destination[length++] = "0123456789ABCDEF"u8[digit];
        }
        return length;
    }

    /// <summary>The base64 line of the key (what a .pub file holds after its comment).</summary>
    public string ToBase64()
    {
        var raw = new byte[EncodedLength];
        "Ed"u8.CopyTo(raw);
        KeyId.CopyTo(raw, 2);
        Key.CopyTo(raw, 2 + KeyIdLength);
        return Convert.ToBase64String(raw);
    }

    /// <exception cref="SignatureFormatException">Not a minisign public key.</exception>
    public static MinisignPublicKey Parse(ReadOnlySpan<byte> text)
    {
        Span<byte> keyId = stackalloc byte[KeyIdLength];
        Span<byte> key = stackalloc byte[KeyLength];
        return TryParse(text, keyId, key) switch
        {
            MinisignKeyFault.None => new MinisignPublicKey(keyId.ToArray(), key.ToArray()),
            MinisignKeyFault.NoKeyLine => throw new SignatureFormatException("not a minisign public key: no key line (expected an \"untrusted comment:\" line and a base64 line)"),
            MinisignKeyFault.NotBase64 => throw new SignatureFormatException($"not a minisign public key: the key line is not the base64 of {EncodedLength} bytes"),
            _ => throw new SignatureFormatException("not a minisign public key: its algorithm is not Ed25519 (\"Ed\")"),
        };
    }

    /// <summary>
    /// The rule, without allocating (the launch core reads trusted keys with it): the key line
    /// (<see cref="MinisignKeyLine"/>) is the base64 of "Ed" || key id || key.
    /// </summary>
    public static MinisignKeyFault TryParse(ReadOnlySpan<byte> text, Span<byte> keyId, Span<byte> key)
    {
        Span<byte> raw = stackalloc byte[EncodedLength];
        var fault = MinisignKeyLine.TryDecode(text, raw);
        if (fault != MinisignKeyFault.None)
            return fault;
        raw.Slice(2, KeyIdLength).CopyTo(keyId);
        raw.Slice(2 + KeyIdLength, KeyLength).CopyTo(key);
        return MinisignKeyFault.None;
    }
}

/// <summary>A key, signature or signed file that is not as minisign and xar write them (bad input: exit 2).</summary>
public sealed class SignatureFormatException(string message) : Exception(message);
