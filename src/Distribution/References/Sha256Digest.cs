using System.Security.Cryptography;

namespace Xar.Distribution;

/// <summary>
/// Content digests as the distribution spec writes them, <c>sha256:</c> and 64 lowercase hex digits. Only that
/// form is accepted: digests become file names in the blob cache, so nothing else may get through.
/// </summary>
public static class Sha256Digest
{
    public const string Prefix = "sha256:";

    public static bool IsValid(string? digest) =>
        digest is { Length: 71 } && digest.StartsWith(Prefix, StringComparison.Ordinal) && !digest.AsSpan(7).ContainsAnyExcept("0123456789abcdef");

    /// <summary>The 64 hex digits of a valid digest.</summary>
    public static string Hex(string digest) => IsValid(digest) ? digest[7..] : throw new ArgumentException($"{digest}: not a sha256 digest");

    public static string Of(ReadOnlySpan<byte> data) => Prefix + Convert.ToHexStringLower(SHA256.HashData(data));

    public static string FromHash(byte[] hash) => Prefix + Convert.ToHexStringLower(hash);
}
