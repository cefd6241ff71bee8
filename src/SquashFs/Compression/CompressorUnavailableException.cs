using Xar.SquashFs.Format;

namespace Xar.SquashFs.Compression;

/// <summary>
/// A codec's system library is missing. The message names the library and the Debian package
/// that provides it. An <see cref="IOException"/>: the input is fine, the machine lacks a tool.
/// </summary>
public sealed class CompressorUnavailableException(SquashFsCompression algorithm, string message) : IOException(message)
{
    public SquashFsCompression Algorithm { get; } = algorithm;
}
