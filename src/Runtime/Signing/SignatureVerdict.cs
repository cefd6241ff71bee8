namespace Xar.Runtime.Signing;

public enum SignatureStatus : byte
{
    /// <summary>Signed by <see cref="SignatureVerdict.Key"/>, and nothing covered changed since.</summary>
    Good,
    /// <summary>The header has no signature.</summary>
    Missing,
    /// <summary>The signature is not as xar writes it.</summary>
    Malformed,
    /// <summary>Made with a key that is none of those given.</summary>
    OtherKey,
    /// <summary>Made with one of the keys, but it does not hold: the image or a signed header value changed, or the signature did.</summary>
    Bad,
}

/// <summary>The result of checking a XAR's signature against keys (<see cref="XarSignatureCheck"/>).</summary>
public sealed record SignatureVerdict(SignatureStatus Status, string Message, MinisignPublicKey? Key = null, MinisignSignature? Signature = null)
{
    public bool IsGood => Status == SignatureStatus.Good;
}
