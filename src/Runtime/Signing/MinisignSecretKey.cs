using System.Buffers.Binary;
using System.Security.Cryptography;
using Org.BouncyCastle.Crypto.Digests;
using Org.BouncyCastle.Crypto.Generators;

namespace Xar.Runtime.Signing;

/// <summary>
/// A minisign secret key file (<c>minisign -G</c>): an "untrusted comment:" line, then the base64 of
/// "Ed", the KDF ("Sc" for scrypt, or two zero bytes for an unencrypted key, <c>minisign -W</c>), "B2", a 32-byte
/// salt, the scrypt opslimit and memlimit (little-endian 64-bit), then 104 bytes: the key id, the 64-byte
/// Ed25519 secret key (seed and public key) and a BLAKE2b-256 checksum of "Ed" || key id || secret key (zero in an unencrypted key). With
/// scrypt those 104 bytes are XORed with as many bytes derived from the password (libsodium's
/// crypto_pwhash_scryptsalsa208sha256 parameters). Used by <c>xar sign</c> only: scrypt never reaches the launcher.
/// </summary>
public sealed class MinisignSecretKey : IDisposable
{
    private const int SaltLength = 32, SecretLength = 64, ChecksumLength = 32;
    private const int KeyDataLength = MinisignPublicKey.KeyIdLength + SecretLength + ChecksumLength;
    private const int EncodedLength = 2 + 2 + 2 + SaltLength + 8 + 8 + KeyDataLength;

    private readonly byte[] _secret;

    private MinisignSecretKey(byte[] keyId, byte[] secret)
    {
        KeyId = keyId;
        _secret = secret;
    }

    public byte[] KeyId { get; }

    /// <summary>The Ed25519 seed (the first half of libsodium's 64-byte secret key).</summary>
    internal ReadOnlySpan<byte> Seed => _secret.AsSpan(0, 32);

    /// <summary>The public half, as stored in the secret key.</summary>
    public ReadOnlySpan<byte> PublicKey => _secret.AsSpan(32, 32);

    /// <summary>Whether the key file is encrypted (needs a password), without decrypting it.</summary>
    /// <exception cref="SignatureFormatException">Not a minisign secret key.</exception>
    public static bool IsEncrypted(ReadOnlySpan<byte> text) => Decode(text)[2] == 'S';

    /// <summary>
    /// Reads a secret key; <paramref name="password"/> is asked for only when the key is encrypted.
    /// </summary>
    /// <exception cref="SignatureFormatException">Not a minisign secret key, or a wrong password (the checksum fails).</exception>
    public static MinisignSecretKey Parse(ReadOnlySpan<byte> text, Func<byte[]> password)
    {
        byte[] raw = Decode(text);
        try
        {
            var data = raw.AsSpan(EncodedLength - KeyDataLength);
            if (raw[2] == 'S' && raw[3] == 'c')
            {
                var salt = raw.AsSpan(6, SaltLength).ToArray();
                ulong opsLimit = BinaryPrimitives.ReadUInt64LittleEndian(raw.AsSpan(6 + SaltLength));
                ulong memLimit = BinaryPrimitives.ReadUInt64LittleEndian(raw.AsSpan(6 + SaltLength + 8));
                var (logN, r, p) = ScryptParameters(opsLimit, memLimit);
                if (logN > 24 || (long)r * p > 1 << 20)
                    throw new SignatureFormatException($"the secret key's scrypt limits (opslimit {opsLimit}, memlimit {memLimit}) ask for more than xar allows (at most 2 GiB)");
                byte[] secret = password();
                byte[] stream;
                try
                {
                    stream = SCrypt.Generate(secret, salt, 1 << logN, r, p, KeyDataLength);
                }
                finally
                {
                    CryptographicOperations.ZeroMemory(secret);
                }
                for (int i = 0; i < KeyDataLength; i++)
                    data[i] ^= stream[i];
                CryptographicOperations.ZeroMemory(stream);
            }
            else if (raw[2] != 0 || raw[3] != 0)
            {
                throw new SignatureFormatException("not a minisign secret key: unknown key derivation (expected \"Sc\" or none)");
            }
            var keyId = data[..MinisignPublicKey.KeyIdLength];
            var secretKey = data.Slice(MinisignPublicKey.KeyIdLength, SecretLength);
            var checksum = data.Slice(MinisignPublicKey.KeyIdLength + SecretLength, ChecksumLength);
            var digest = new Blake2bDigest(ChecksumLength * 8);
            digest.BlockUpdate(raw.AsSpan(0, 2));
            digest.BlockUpdate(keyId);
            digest.BlockUpdate(secretKey);
            Span<byte> expected = stackalloc byte[ChecksumLength];
            digest.DoFinal(expected);
            // minisign 0.11 leaves the checksum of an unencrypted key (-W) zero.
            bool zeroChecksum = raw[2] == 0 && !checksum.ContainsAnyExcept((byte)0);
            if (!zeroChecksum && !CryptographicOperations.FixedTimeEquals(expected, checksum))
                throw new SignatureFormatException(raw[2] == 'S' ? "wrong password for the secret key (its checksum does not match)" : "the secret key is damaged (its checksum does not match)");
            return new MinisignSecretKey(keyId.ToArray(), secretKey.ToArray());
        }
        finally
        {
            CryptographicOperations.ZeroMemory(raw);
        }
    }

    private static byte[] Decode(ReadOnlySpan<byte> text)
    {
        var raw = new byte[EncodedLength];
        var fault = MinisignKeyLine.TryDecode(text, raw);
        if (fault == MinisignKeyFault.NoKeyLine)
            throw new SignatureFormatException("not a minisign secret key: no key line");
        if (fault == MinisignKeyFault.NotBase64)
            throw new SignatureFormatException($"not a minisign secret key: the key line is not the base64 of {EncodedLength} bytes");
        if (fault == MinisignKeyFault.NotEd25519 || raw[4] != 'B' || raw[5] != '2')
            throw new SignatureFormatException("not a minisign secret key: expected an Ed25519 key with a BLAKE2b checksum (\"Ed\", \"B2\")");
        return raw;
    }

    /// <summary>libsodium's pickparams for crypto_pwhash_scryptsalsa208sha256: N (as log2), r and p from the limits.</summary>
    private static (int LogN, int R, int P) ScryptParameters(ulong opsLimit, ulong memLimit)
    {
        if (opsLimit < 32768)
            opsLimit = 32768;
        const int r = 8;
        int logN;
        ulong maxN;
        if (opsLimit < memLimit / 32)
        {
            maxN = opsLimit / (r * 4);
            for (logN = 1; logN < 63; logN++)
                if (1UL << logN > maxN / 2)
                    break;
            return (logN, r, 1);
        }
        maxN = memLimit / (r * 128);
        for (logN = 1; logN < 63; logN++)
            if (1UL << logN > maxN / 2)
                break;
        ulong maxRp = opsLimit / 4 / (1UL << logN);
        if (maxRp > 0x3fffffff)
            maxRp = 0x3fffffff;
        return (logN, r, (int)((uint)maxRp / r));
    }

    public void Dispose() => CryptographicOperations.ZeroMemory(_secret);
}
