namespace Xar.Runtime;

/// <summary>
/// The XAR runtime could not mount, extract or prepare a run (a hostile mount root, an unwritable
/// cache, a FUSE server that failed). The message is the cause, one line, without the file name.
/// </summary>
public class XarLaunchException : IOException
{
    public XarLaunchException(string message) : base(message)
    {
    }

    public XarLaunchException(string message, Exception inner) : base(message, inner)
    {
    }
}

/// <summary>FUSE cannot serve this image here (no /dev/fuse, a mount that failed, no squashfuse with XAR_FUSE=squashfuse): extract instead.</summary>
public sealed class FuseUnavailableException(string reason) : XarLaunchException(reason)
{
    /// <summary>Why FUSE was not used, as one short phrase for the one line the launcher prints.</summary>
    public string Reason { get; } = reason;
}
