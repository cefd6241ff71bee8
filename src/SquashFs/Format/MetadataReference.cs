namespace Xar.SquashFs.Format;

/// <summary>
/// A position inside a metadata table: the byte offset of the (compressed) metadata block from the
/// table start, and the offset inside that block's uncompressed payload. Stored as one u64
/// (block &lt;&lt; 16 | offset) for inode references.
/// </summary>
public readonly record struct MetadataReference(ulong Block, ushort Offset)
{
    public ulong Packed => (Block << 16) | Offset;

    public static MetadataReference FromPacked(ulong value) => new(value >> 16, (ushort)(value & 0xFFFF));

    public override string ToString() => $"{Block}:{Offset}";
}
