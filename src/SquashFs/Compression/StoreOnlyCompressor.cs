namespace Xar.SquashFs.Compression;

/// <summary>
/// For "no compression" images: the compressor never makes a block smaller, so every block is
/// stored raw with its uncompressed bit set; the superblock still names a real codec.
/// </summary>
internal sealed class StoreOnlyCompressor : IBlockCompressor
{
    public int Compress(ReadOnlySpan<byte> source, Span<byte> destination) => 0;

    public void Dispose() { }
}
