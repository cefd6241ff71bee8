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
