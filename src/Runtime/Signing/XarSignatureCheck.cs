using Microsoft.Win32.SafeHandles;

namespace Xar.Runtime.Signing;

/// <summary>
/// Checks the signature of the XAR at <c>archiveOffset</c> of an open file against a set of public keys: the
/// header's <see cref="XarSignatureField"/> must be a minisign signature by one of them over the file's
/// <see cref="SignedStatement"/>. Used by <c>xar verify --key</c> and by the launcher under a trust policy.
/// </summary>
public static class XarSignatureCheck
{
    /// <exception cref="XarHeaderException">The header breaks a rule.</exception>
    public static SignatureVerdict Verify(SafeFileHandle handle, long archiveOffset, IReadOnlyList<MinisignPublicKey> keys)
    {
        var (prefix, imageOffset, value) = SignedStatement.ReadHeader(handle, archiveOffset);
        if (value is null)
            return new(SignatureStatus.Missing, "not signed (the header has no XAR_SIGNATURE)");
        MinisignSignature signature;
        try
        {
            signature = MinisignSignature.ParseHeaderValue(value);
        }
        catch (SignatureFormatException e)
        {
            return new(SignatureStatus.Malformed, e.Message);
        }
        // Key ids are 8 random bytes a key's owner chooses, so two keys may share one: each is tried.
        var candidates = keys.Where(k => k.KeyId.AsSpan().SequenceEqual(signature.KeyId)).ToList();
        string id = MinisignPublicKey.FormatKeyId(signature.KeyId);
        if (candidates.Count == 0)
            return new(SignatureStatus.OtherKey, keys.Count == 1
                ? $"signed with key {id}, not with the key given ({keys[0].KeyIdText})"
                : $"signed with key {id}, which is not a trusted key", Signature: signature);
        var prehash = SignedStatement.Digest(handle, archiveOffset, prefix, imageOffset);
        foreach (var key in candidates)
            if (signature.Verify(key, prehash))
                return new(SignatureStatus.Good, $"signature by key {id} is good; trusted comment: {signature.TrustedCommentText}", key, signature);
        return new(SignatureStatus.Bad, $"bad signature (key {id}): the image, a signed header value or the signature changed since it was signed", candidates[0], signature);
    }
}
