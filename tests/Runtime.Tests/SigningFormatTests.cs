using System.Text;
using Org.BouncyCastle.Math.EC.Rfc8032;
using Xar.Runtime.Signing;

namespace Xar.Runtime.Tests;

/// <summary>The minisign formats as xar reads and writes them (the real minisign checks them in Packer.Tests and Launcher.Tests).</summary>
public class SigningFormatTests
{
    [Fact]
    public void Base64DecodesWhatTheRuntimeDecodesAndRefusesTheRest()
    {
        var rng = new Random(7);
        for (int length = 1; length < 80; length++)
        {
            var bytes = new byte[length];
            rng.NextBytes(bytes);
            var text = Encoding.ASCII.GetBytes(Convert.ToBase64String(bytes));
            var decoded = new byte[length];
            Assert.True(Base64Text.TryDecodeExact(text, decoded));
            Assert.Equal(bytes, decoded);
            Assert.False(Base64Text.TryDecodeExact(text, new byte[length + 1]));
            if (length > 1)
                Assert.False(Base64Text.TryDecodeExact(text, new byte[length - 1]));
        }
        var one = new byte[1];
        Assert.False(Base64Text.TryDecodeExact("QR=="u8, one)); // bits past the end: not canonical
        Assert.True(Base64Text.TryDecodeExact("QQ=="u8, one));
        Assert.False(Base64Text.TryDecodeExact("Q!=="u8, one));
        Assert.False(Base64Text.TryDecodeExact("QQ="u8, one));
        Assert.False(Base64Text.TryDecodeExact("Q=Q="u8, new byte[2]));
        Assert.False(Base64Text.TryDecodeExact(""u8, []));
    }

    private static (byte[] Seed, byte[] Public, byte[] KeyId) NewKey(int seed)
    {
        var sk = new byte[32];
        new Random(seed).NextBytes(sk);
        var pk = new byte[32];
        Ed25519.GeneratePublicKey(sk, 0, pk, 0);
        var id = new byte[8];
        new Random(seed + 1).NextBytes(id);
        return (sk, pk, id);
    }

    private static string PublicKeyFile(byte[] id, byte[] pk) =>
        "untrusted comment: minisign public key\n" + Convert.ToBase64String([(byte)'E', (byte)'d', .. id, .. pk]) + "\n";

    /// <summary>An unencrypted secret key file as minisign 0.11 -W writes it (checksum left zero).</summary>
    private static string SecretKeyFile(byte[] id, byte[] seed, byte[] pk) =>
        "untrusted comment: minisign encrypted secret key\n" +
        Convert.ToBase64String([(byte)'E', (byte)'d', 0, 0, (byte)'B', (byte)'2', .. new byte[32 + 16], .. id, .. seed, .. pk, .. new byte[32]]) + "\n";

    /// <summary>
    /// Key ids as minisign prints them (its public key's comment, its messages): the little-endian number in upper-case
    /// hex, no leading zeros. We padded to 16 digits, so one key in 16 was named otherwise than minisign names it.
    /// </summary>
    [Theory]
    [InlineData(new byte[] { 0xEA, 0xB3, 0xE8, 0xB3, 0x01, 0xED, 0x5E, 0x05 }, "55EED01B3E8B3EA")]
    [InlineData(new byte[] { 0xEA, 0xB3, 0xE8, 0xB3, 0x01, 0xED, 0x5E, 0x85 }, "855EED01B3E8B3EA")]
    [InlineData(new byte[] { 0x01, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00 }, "1")]
    [InlineData(new byte[] { 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00 }, "0")]
    [InlineData(new byte[] { 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x10 }, "1000000000000000")]
    public void KeyIdsAreWrittenAsMinisignWritesThem(byte[] keyId, string expected) =>
        Assert.Equal(expected, MinisignPublicKey.FormatKeyId(keyId));

    [Fact]
    public void PublicKeysParseWithOrWithoutTheirCommentAndMalformedOnesAreNamed()
    {
        var (_, pk, id) = NewKey(1);
        var key = MinisignPublicKey.Parse(Encoding.ASCII.GetBytes(PublicKeyFile(id, pk)));
        Assert.Equal(id, key.KeyId);
        Assert.Equal(pk, key.Key);
        Assert.Equal(Convert.ToHexString(id.Reverse().ToArray()).TrimStart('0'), key.KeyIdText); // as minisign: no leading zeros
        Assert.Equal(pk, MinisignPublicKey.Parse(Encoding.ASCII.GetBytes(key.ToBase64())).Key);
        Assert.Contains("no key line", Assert.Throws<SignatureFormatException>(() => MinisignPublicKey.Parse("untrusted comment: x\n"u8)).Message);
        Assert.Contains("base64", Assert.Throws<SignatureFormatException>(() => MinisignPublicKey.Parse("AAAA\n"u8)).Message);
        byte[] wrongAlgorithm = Encoding.ASCII.GetBytes(Convert.ToBase64String([(byte)'E', (byte)'D', .. id, .. pk]));
        Assert.Contains("Ed25519", Assert.Throws<SignatureFormatException>(() => MinisignPublicKey.Parse(wrongAlgorithm)).Message);
    }

    /// <summary>xar sign checks the line fits before it writes anything, from the length alone: it must be exact.</summary>
    [Fact]
    public void TheHeaderValuesLengthIsKnownFromTheTrustedCommentAlone()
    {
        var (seed, pk, id) = NewKey(6);
        using var secret = MinisignSecretKey.Parse(Encoding.ASCII.GetBytes(SecretKeyFile(id, seed, pk)), () => throw new InvalidOperationException("not encrypted"));
        var prehash = new byte[64];
        for (int length = 0; length < 8; length++)
        {
            byte[] comment = Encoding.UTF8.GetBytes(new string('c', length));
            Assert.Equal(MinisignSignature.Sign(secret, prehash, comment).ToHeaderValue().Length, MinisignSignature.HeaderValueLength(comment));
        }
    }

    [Fact]
    public void SignaturesHoldForWhatWasSignedOnlyAndSurviveTheHeaderValue()
    {
        var (seed, pk, id) = NewKey(3);
        using var secret = MinisignSecretKey.Parse(Encoding.ASCII.GetBytes(SecretKeyFile(id, seed, pk)), () => throw new InvalidOperationException("not encrypted"));
        Assert.Equal(pk, secret.PublicKey.ToArray());
        var key = MinisignPublicKey.Parse(Encoding.ASCII.GetBytes(PublicKeyFile(id, pk)));
        var prehash = new byte[64];
        new Random(4).NextBytes(prehash);
        var signature = MinisignSignature.Sign(secret, prehash, Encoding.UTF8.GetBytes("release 1"));
        var parsed = MinisignSignature.ParseHeaderValue(signature.ToHeaderValue());
        Assert.True(parsed.Verify(key, prehash));
        Assert.Equal("release 1", parsed.TrustedCommentText);
        prehash[17] ^= 1;
        Assert.False(parsed.Verify(key, prehash));
        prehash[17] ^= 1;
        // The trusted comment is signed too (the global signature).
        string value = signature.ToHeaderValue();
        string[] words = value.Split(' ');
        words[2] = Convert.ToBase64String(Encoding.UTF8.GetBytes("release 2"));
        Assert.False(MinisignSignature.ParseHeaderValue(string.Join(' ', words)).Verify(key, prehash));
        // Another key (another id) never verifies.
        var (_, otherPk, otherId) = NewKey(5);
        Assert.False(parsed.Verify(MinisignPublicKey.FromParts(otherId, otherPk), prehash));
        // The key id the launch core reads from the value, without allocating.
        Span<byte> keyId = stackalloc byte[8];
        Assert.Equal(SignatureFieldFault.None, XarSignatureField.TryKeyId(Encoding.ASCII.GetBytes(value), true, keyId));
        Assert.Equal(id, keyId.ToArray());
        Assert.Equal(SignatureFieldFault.Missing, XarSignatureField.TryKeyId(default, false, keyId));
        Assert.Equal(SignatureFieldFault.Malformed, XarSignatureField.TryKeyId("minisign nope x y"u8, true, keyId));
        Assert.Equal(SignatureFieldFault.Malformed, XarSignatureField.TryKeyId("signify abc"u8, true, keyId));
        Assert.Throws<SignatureFormatException>(() => MinisignSignature.ParseHeaderValue("minisign a b"));
        Assert.Throws<SignatureFormatException>(() => MinisignSignature.Sign(secret, prehash, Encoding.UTF8.GetBytes("two\nlines")));
    }

    [Fact]
    public void ADamagedSecretKeyFailsItsChecksum()
    {
        var (seed, pk, id) = NewKey(9);
        byte[] raw = Convert.FromBase64String(SecretKeyFile(id, seed, pk).Split('\n')[1]);
        raw[^1] = 1; // a checksum that is not zero, and not the right one
        string text = "untrusted comment: x\n" + Convert.ToBase64String(raw) + "\n";
        Assert.Contains("checksum", Assert.Throws<SignatureFormatException>(() => MinisignSecretKey.Parse(Encoding.ASCII.GetBytes(text), () => [])).Message);
    }
}
