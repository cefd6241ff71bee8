using Xar.SquashFs.Format;

namespace Xar.SquashFs.Compression;

/// <summary>
/// Which compressor and how. Null settings mean the format default, which is not written as a
/// compressor-options block (mksquashfs writes the block only when a setting differs from its default).
/// </summary>
public sealed record class CompressionOptions
{
    public SquashFsCompression Algorithm { get; init; } = SquashFsCompression.Zstd;

    /// <summary>gzip 1-9 (default 9), zstd 1-22 (default 15), xz/lzma preset 0-9 (default 6, like mksquashfs), lzo 1-9 (default 8).</summary>
    public int? Level { get; init; }

    /// <summary>xz dictionary size in bytes (default: the block size).</summary>
    public int? XzDictionarySize { get; init; }

    public XzFilters XzFilters { get; init; }

    /// <summary>lz4 high-compression mode (mksquashfs -Xhc).</summary>
    public bool Lz4HighCompression { get; init; }

    /// <summary>
    /// Store every block raw (xar's "none"): the superblock still names <see cref="Algorithm"/>,
    /// as the format has no null compressor, and the uncompressed flags are set.
    /// </summary>
    public bool Uncompressed { get; init; }
}
