namespace Xar.Distribution;

/// <summary>
/// A push or pull that could not be done, in one line that never holds a credential.
/// <see cref="BadInput"/>: the reference or what the registry holds is wrong (no such tag, a digest that does not
/// match, not a XAR artifact): exit 2; otherwise the work failed (unreachable, refused credentials): exit 1.
/// </summary>
public sealed class RegistryException(string message, bool badInput = false, string? file = null, string? code = null) : Exception(message)
{
    public bool BadInput { get; } = badInput;

    /// <summary>The registry's own error code (the distribution spec's, e.g. DIGEST_INVALID), when it answered with one.</summary>
    public string? Code { get; } = code;

    /// <summary>The local file the failure concerns (the file pushed), when it is not the registry's side.</summary>
    public string? File { get; } = file;
}
