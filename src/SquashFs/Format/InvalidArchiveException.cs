namespace Xar.SquashFs.Format;

/// <summary>
/// The input is not a valid archive or image. Programs map every subclass to exit status 2
/// ("bad input"), as opposed to <see cref="IOException"/> (exit 1, a failure while working).
/// </summary>
public class InvalidArchiveException : Exception
{
    public InvalidArchiveException(string message) : base(message) { }

    public InvalidArchiveException(string message, Exception inner) : base(message, inner) { }
}
