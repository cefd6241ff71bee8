using System.Buffers.Binary;
using Xar.SquashFs.Format;

namespace Xar.SquashFs.Reading;

/// <summary>
/// A lookup table (ids, fragments, export, xattr ids): fixed-size records in metadata blocks, found
/// through an uncompressed list of u64 block locations. The location list is read once; blocks are
/// read on demand through the metadata cache.
/// </summary>
internal sealed class LookupTable
{
    private readonly MetadataReader _reader;
    private readonly long[] _blocks;
    private readonly long _blocksEnd;
    private readonly int _entrySize;
    private readonly Subject _what;

    /// <param name="listStart">Where the location list starts (image-relative).</param>
    /// <param name="count">Records in the table.</param>
    /// <param name="blocksStart">Lowest position a block may have (the previous table's end).</param>
    public LookupTable(ImageSource source, MetadataReader reader, long listStart, long count, int entrySize,
        long blocksStart, Subject what)
    {
        _reader = reader;
        _entrySize = entrySize;
        _what = what;
        Count = count;
        long blockCount = (count * entrySize + SquashFsConstants.MetadataBlockSize - 1) / SquashFsConstants.MetadataBlockSize;
        if (blockCount * 8 > source.Length - listStart)
            throw new SquashFsCorruptException($"{what}: {count} entries need a location list of {blockCount * 8} bytes at {listStart}, past the end of the image");
        var raw = new byte[blockCount * 8];
        source.ReadExactly(listStart, raw, what);
        _blocks = new long[blockCount];
        for (int i = 0; i < blockCount; i++)
        {
            ulong p = BinaryPrimitives.ReadUInt64LittleEndian(raw.AsSpan(i * 8));
            // The blocks are written just before their location list.
            if (p < (ulong)blocksStart || p >= (ulong)listStart)
                throw new SquashFsCorruptException($"{what}: metadata block {i} at {p} lies outside the table ({blocksStart}..{listStart})");
            _blocks[i] = (long)p;
        }
        _blocksEnd = listStart;
    }

    public long Count { get; }

    /// <summary>Lowest block position, or the list start when the table is empty.</summary>
    public long FirstBlock => _blocks.Length > 0 ? _blocks.Min() : _blocksEnd;

    public int BlockCount => _blocks.Length;

    public void Read(long index, Span<byte> destination)
    {
        if (index < 0 || index >= Count)
            throw new SquashFsCorruptException($"{_what}: index {index} is out of range (table has {Count} entries)");
        long byteOffset = index * _entrySize;
        int block = (int)(byteOffset / SquashFsConstants.MetadataBlockSize);
        int offset = (int)(byteOffset % SquashFsConstants.MetadataBlockSize);
        var data = _reader.Read(_blocks[block], _blocksEnd, _what);
        if (offset + _entrySize > data.Length)
            throw new SquashFsCorruptException($"{_what}: entry {index} lies past the end of its metadata block ({data.Length} bytes)");
        data.Payload.Slice(offset, _entrySize).CopyTo(destination);
    }

    /// <summary>Decodes every block (for verification): each but the last must be full.</summary>
    public void VerifyBlocks()
    {
        long remaining = Count * _entrySize;
        for (int i = 0; i < _blocks.Length; i++)
        {
            var data = _reader.Read(_blocks[i], _blocksEnd, _what);
            int expected = (int)Math.Min(remaining, SquashFsConstants.MetadataBlockSize);
            if (data.Length < expected)
                throw new SquashFsCorruptException($"{_what}: metadata block {i} holds {data.Length} bytes, expected {expected}");
            remaining -= expected;
        }
    }
}

/// <summary>The uid/gid table: inodes hold 16-bit indexes into it. Small, so read whole at open.</summary>
internal sealed class IdTable
{
    private readonly uint[] _ids;

    public IdTable(ImageSource source, MetadataReader reader, Superblock sb, long blocksStart)
    {
        var table = new LookupTable(source, reader, (long)sb.IdTableStart, sb.IdCount, 4, blocksStart, "id table");
        _ids = new uint[sb.IdCount];
        Span<byte> b = stackalloc byte[4];
        for (int i = 0; i < _ids.Length; i++)
        {
            table.Read(i, b);
            _ids[i] = BinaryPrimitives.ReadUInt32LittleEndian(b);
        }
        Table = table;
    }

    public LookupTable Table { get; }

    public int Count => _ids.Length;

    public uint this[ushort index, Subject what] =>
        index < _ids.Length ? _ids[index]
            : throw new SquashFsCorruptException($"{what}: id index {index} is out of range (id table has {_ids.Length} entries)");
}

/// <summary>One fragment block: where it is and its on-disk size word (bit 24 = stored raw).</summary>
internal readonly record struct FragmentEntry(long Start, uint SizeWord)
{
    public int DiskSize => (int)(SizeWord & 0x00FFFFFF);

    public bool Compressed => (SizeWord & SquashFsConstants.DataBlockUncompressedBit) == 0;
}

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

/// <summary>The NFS export table: inode number → inode reference.</summary>
internal sealed class ExportTable(LookupTable table)
{
    public LookupTable Table => table;

    public MetadataReference Get(uint inodeNumber)
    {
        if (inodeNumber == 0 || inodeNumber > table.Count)
            throw new SquashFsCorruptException($"export table: inode number {inodeNumber} is out of range (1..{table.Count})");
        Span<byte> b = stackalloc byte[8];
        table.Read(inodeNumber - 1, b);
        return MetadataReference.FromPacked(BinaryPrimitives.ReadUInt64LittleEndian(b));
    }
}
