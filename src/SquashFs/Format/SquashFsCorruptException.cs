namespace Xar.SquashFs.Format;

/// <summary>
/// The input is not a valid image (bad magic, a table out of range, a block that does not
/// decompress, a reference loop). Programs map it to exit status 2 ("bad input").
/// </summary>
public class SquashFsCorruptException : InvalidArchiveException
{
    public SquashFsCorruptException(string message) : base(message) { }

    public SquashFsCorruptException(string message, Exception inner) : base(message, inner) { }
}
