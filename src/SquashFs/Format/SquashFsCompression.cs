namespace Xar.SquashFs.Format;

/// <summary>Compressor ids as stored in the superblock.</summary>
public enum SquashFsCompression : ushort
{
    Gzip = 1,
    Lzma = 2,
    Lzo = 3,
    Xz = 4,
    Lz4 = 5,
    Zstd = 6,
}
