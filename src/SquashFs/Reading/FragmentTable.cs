using System.Buffers.Binary;
using Xar.SquashFs.Format;

namespace Xar.SquashFs.Reading;

/// <summary>One fragment block: where it is and its on-disk size word (bit 24 = stored raw).</summary>
internal readonly record struct FragmentEntry(long Start, uint SizeWord)
{
    public int DiskSize => (int)(SizeWord & 0x00FFFFFF);

    public bool Compressed => (SizeWord & SquashFsConstants.DataBlockUncompressedBit) == 0;
}

/// <summary>The fragment table: fragment index → its block, each entry checked against the data area.</summary>
internal sealed class FragmentTable(LookupTable table, long dataEnd, uint blockSize)
{
    public LookupTable Table => table;

    public long Count => table.Count;

    public FragmentEntry Get(uint index)
    {
        Span<byte> b = stackalloc byte[16];
        table.Read(index, b);
        long start = (long)Math.Min(BinaryPrimitives.ReadUInt64LittleEndian(b), long.MaxValue);
        uint size = BinaryPrimitives.ReadUInt32LittleEndian(b[8..]);
        var entry = new FragmentEntry(start, size);
        if ((size & ~(0x00FFFFFFu | SquashFsConstants.DataBlockUncompressedBit)) != 0 || entry.DiskSize == 0 || entry.DiskSize > blockSize)
            throw new SquashFsCorruptException($"fragment {index}: size word 0x{size:x8} is not a valid block size (block size {blockSize})");
        if (start < SquashFsConstants.SuperblockSize || start > dataEnd - entry.DiskSize)
            throw new SquashFsCorruptException($"fragment {index}: block at {start} (+{entry.DiskSize}) lies outside the data area (ends at {dataEnd})");
        return entry;
    }
}
