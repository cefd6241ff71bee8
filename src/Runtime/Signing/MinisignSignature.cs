using System.Text;
using Org.BouncyCastle.Math.EC.Rfc8032;

namespace Xar.Runtime.Signing;

/// <summary>
/// A minisign signature of the prehashed kind ("ED"): the Ed25519 signature of a message's BLAKE2b-512, and the
/// global signature over that signature and the trusted comment. Kept in a XAR header (<see cref="XarSignatureField"/>)
/// or written as a <c>.minisig</c> file, which <c>minisign -V</c> checks.
/// </summary>
public sealed class MinisignSignature
{
    public const int Ed25519Length = 64;
    /// <summary>What fits the trusted comment: the header holds it base64-encoded, within its 4096 bytes.</summary>
    public const int MaxTrustedCommentBytes = 1024;

    private MinisignSignature(byte[] keyId, byte[] signature, byte[] trustedComment, byte[] globalSignature)
    {
        KeyId = keyId;
        Signature = signature;
        TrustedComment = trustedComment;
        GlobalSignature = globalSignature;
    }

    public byte[] KeyId { get; }
    public byte[] Signature { get; }
    public byte[] TrustedComment { get; }
    public byte[] GlobalSignature { get; }

    public string TrustedCommentText => Encoding.UTF8.GetString(TrustedComment);

    /// <summary>Signs <paramref name="prehash"/> (the BLAKE2b-512 of the message) and the trusted comment with the key.</summary>
    public static MinisignSignature Sign(MinisignSecretKey key, ReadOnlySpan<byte> prehash, byte[] trustedComment)
    {
        if (trustedComment.AsSpan().IndexOfAny((byte)'\n', (byte)'\r', (byte)0) >= 0)
            throw new SignatureFormatException("the trusted comment must be one line (no newline or NUL)");
        if (trustedComment.Length > MaxTrustedCommentBytes)
            throw new SignatureFormatException($"the trusted comment is {trustedComment.Length} bytes, more than {MaxTrustedCommentBytes}");
        var signature = new byte[Ed25519Length];
        Ed25519.Sign(key.Seed.ToArray(), 0, prehash.ToArray(), 0, prehash.Length, signature, 0);
        var global = new byte[Ed25519Length];
        byte[] both = [.. signature, .. trustedComment];
        Ed25519.Sign(key.Seed.ToArray(), 0, both, 0, both.Length, global, 0);
        return new MinisignSignature(key.KeyId.ToArray(), signature, trustedComment, global);
    }

    /// <summary>Whether both signatures hold for <paramref name="prehash"/> under <paramref name="key"/> (whose id must be the signature's).</summary>
    public bool Verify(MinisignPublicKey key, ReadOnlySpan<byte> prehash)
    {
        if (!key.KeyId.AsSpan().SequenceEqual(KeyId))
            return false;
        if (!Ed25519.Verify(Signature, 0, key.Key, 0, prehash.ToArray(), 0, prehash.Length))
            return false;
        byte[] both = [.. Signature, .. TrustedComment];
        return Ed25519.Verify(GlobalSignature, 0, key.Key, 0, both, 0, both.Length);
    }

    /// <summary>The value of the header's <see cref="XarSignatureField.Name"/> line.</summary>
    public string ToHeaderValue() =>
        $"{XarSignatureField.Scheme} {Convert.ToBase64String(SignatureBlock())} {Convert.ToBase64String(TrustedComment)} {Convert.ToBase64String(GlobalSignature)}";

    /// <summary>How long <see cref="ToHeaderValue"/> is for a signature with this trusted comment (any key, any statement).</summary>
    public static int HeaderValueLength(ReadOnlySpan<byte> trustedComment)
    {
        static int Base64Length(int bytes) => (bytes + 2) / 3 * 4;
        return XarSignatureField.Scheme.Length + 3 + Base64Length(2 + MinisignPublicKey.KeyIdLength + Ed25519Length)
            + Base64Length(trustedComment.Length) + Base64Length(Ed25519Length);
    }

    /// <summary>The <c>.minisig</c> file minisign reads.</summary>
    public string ToMinisig(string untrustedComment) =>
        $"untrusted comment: {untrustedComment}\n{Convert.ToBase64String(SignatureBlock())}\ntrusted comment: {TrustedCommentText}\n{Convert.ToBase64String(GlobalSignature)}\n";

    private byte[] SignatureBlock() => [(byte)'E', (byte)'D', .. KeyId, .. Signature];

    /// <exception cref="SignatureFormatException">The value is not a signature as xar writes it.</exception>
    public static MinisignSignature ParseHeaderValue(string value)
    {
        var words = value.Split(' ');
        if (words.Length != 4 || words[0] != XarSignatureField.Scheme)
            throw new SignatureFormatException($"{XarSignatureField.Name} is malformed: expected \"{XarSignatureField.Scheme} SIGNATURE COMMENT GLOBAL\" (base64 words)");
        var block = new byte[XarSignatureField.SignatureLength];
        var global = new byte[Ed25519Length];
        byte[]? comment = words[2].Length == 0 ? [] : TryBase64(words[2]);
        if (!XarSignatureField.TryDecodeSignature(Encoding.ASCII.GetBytes(words[1]), block))
            throw new SignatureFormatException($"{XarSignatureField.Name} is malformed: its signature is not the base64 of a prehashed (\"ED\") minisign signature");
        if (!Base64Text.TryDecodeExact(Encoding.ASCII.GetBytes(words[3]), global))
            throw new SignatureFormatException($"{XarSignatureField.Name} is malformed: its global signature is not the base64 of {Ed25519Length} bytes");
        if (comment is null)
            throw new SignatureFormatException($"{XarSignatureField.Name} is malformed: its trusted comment is not base64");
        return new MinisignSignature(block[2..10], block[10..], comment, global);
    }

    private static byte[]? TryBase64(string text)
    {
        var buffer = new byte[text.Length];
        return Convert.TryFromBase64String(text, buffer, out int written) ? buffer[..written] : null;
    }
}
