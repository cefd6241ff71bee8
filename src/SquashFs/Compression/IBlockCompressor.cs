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

/// <summary>Decompresses one block at a time. An instance is used by one thread at a time.</summary>
public interface IBlockDecompressor : IDisposable
{
    /// <summary>
    /// Decompresses <paramref name="source"/> into <paramref name="destination"/> and returns the
    /// decompressed length. Never writes past <paramref name="destination"/>: output that would not
    /// fit, or input that is not a valid stream, throws <see cref="Format.SquashFsCorruptException"/>.
    /// </summary>
    int Decompress(ReadOnlySpan<byte> source, Span<byte> destination);
}
