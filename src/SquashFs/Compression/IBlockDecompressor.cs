namespace Xar.SquashFs.Compression;

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
