namespace Xar.Runtime.Signing;

/// <summary>What is wrong with a header's signature field (<see cref="XarSignatureField.TryKeyId"/>).</summary>
public enum SignatureFieldFault : byte
{
    None,
    Missing,
    Malformed,
}

/// <summary>
/// The header line that carries a signature: <c>XAR_SIGNATURE="minisign SIG COMMENT GLOBAL"</c>, three base64
/// words one space apart: SIG is minisign's "ED" || key id || Ed25519 signature of the BLAKE2b-512 of the signed
/// statement (<see cref="SignedStatement"/>), COMMENT the trusted comment's bytes, GLOBAL the Ed25519 signature of
/// the signature and the trusted comment. Base64 has no double quote, '$', '`' or '\', so Facebook's parser and
/// sh read the line as any other value.
/// </summary>
public static class XarSignatureField
{
    public const string Name = "XAR_SIGNATURE";
    public const string Scheme = "minisign";
    /// <summary>"ED", the key id and the signature.</summary>
    public const int SignatureLength = 2 + MinisignPublicKey.KeyIdLength + 64;

    /// <summary>The key id the field names, without allocating (the launch core checks it against the trusted keys).</summary>
    public static SignatureFieldFault TryKeyId(ReadOnlySpan<byte> value, bool present, Span<byte> keyId)
    {
        if (!present)
            return SignatureFieldFault.Missing;
        if (!value.StartsWith("minisign "u8))
            return SignatureFieldFault.Malformed;
        var rest = value["minisign "u8.Length..];
        int space = rest.IndexOf((byte)' ');
        if (space < 0)
            return SignatureFieldFault.Malformed;
        Span<byte> raw = stackalloc byte[SignatureLength];
        if (!TryDecodeSignature(rest[..space], raw))
            return SignatureFieldFault.Malformed;
        raw.Slice(2, MinisignPublicKey.KeyIdLength).CopyTo(keyId);
        return SignatureFieldFault.None;
    }

    /// <summary>The SIG word decoded into <paramref name="block"/> (<see cref="SignatureLength"/> bytes): false unless it is a prehashed ("ED") signature.</summary>
    public static bool TryDecodeSignature(ReadOnlySpan<byte> word, Span<byte> block) =>
        Base64Text.TryDecodeExact(word, block) && block[0] == 'E' && block[1] == 'D';
}
