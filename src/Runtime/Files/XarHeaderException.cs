using Xar.SquashFs.Format;

namespace Xar.Runtime;

/// <summary>Which rule of the XAR header a file breaks (Facebook's parser has one error kind per rule).</summary>
public enum XarHeaderError
{
    UnexpectedEndOfFile,
    InvalidShebang,
    MalformedLine,
    InvalidOffset,
    DuplicateParameter,
    MissingParameters,
    InvalidUuid,
    TrampolineError,
    IncorrectMagic,
}

/// <summary>A file that is not a valid XAR: the message names the rule it breaks.</summary>
public sealed class XarHeaderException : InvalidArchiveException
{
    public XarHeaderException(XarHeaderError error, string message) : base(message) => Error = error;

    public XarHeaderError Error { get; }
}
