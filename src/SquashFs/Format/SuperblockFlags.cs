namespace Xar.SquashFs.Format;

[Flags]
public enum SuperblockFlags : ushort
{
    None = 0,
    UncompressedInodes = 0x0001,
    UncompressedData = 0x0002,
    Check = 0x0004,
    UncompressedFragments = 0x0008,
    NoFragments = 0x0010,
    AlwaysFragments = 0x0020,
    Duplicates = 0x0040,
    Exportable = 0x0080,
    UncompressedXattrs = 0x0100,
    NoXattrs = 0x0200,
    CompressorOptions = 0x0400,
    UncompressedIds = 0x0800,
}
