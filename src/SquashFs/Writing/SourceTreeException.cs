namespace Xar.SquashFs;

/// <summary>
/// A file of the source tree could not be packed: unreadable, changed while it was read, or of a
/// kind SquashFS cannot hold. <see cref="Path"/> names the file. <see cref="IsBadInput"/> tells
/// programs to exit with "bad input" (2) rather than "failure while working" (1).
/// </summary>
public sealed class SourceTreeException(string path, string message, bool isBadInput = false, Exception? inner = null)
    : IOException(message, inner)
{
    public string Path { get; } = path;

    public bool IsBadInput { get; } = isBadInput;
}
