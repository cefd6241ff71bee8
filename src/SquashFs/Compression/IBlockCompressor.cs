namespace Xar.SquashFs.Compression;

/// <summary>
/// Compresses one block (data block, fragment block or metadata block) at a time.
/// An instance is used by one thread at a time; create one per worker.
/// </summary>
public interface IBlockCompressor : IDisposable
{
    /// <summary>
    /// Compresses <paramref name="source"/> into <paramref name="destination"/>.
    /// Returns the compressed length, or 0 when the result would not be smaller than the source
    /// (the caller then stores the block uncompressed, as the format requires).
    /// <paramref name="destination"/> must be at least <c>source.Length</c> bytes.
    /// </summary>
    int Compress(ReadOnlySpan<byte> source, Span<byte> destination);
}
