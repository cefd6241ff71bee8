using System.Buffers.Binary;
using Xar.SquashFs.Format;

namespace Xar.SquashFs.Reading;

/// <summary>One decoded metadata block: its payload and where the next block's header starts.</summary>
internal sealed class MetadataBlock(byte[] data, int length, long nextPosition)
{
    public ReadOnlySpan<byte> Payload => data.AsSpan(0, length);

    public int Length => length;

    public long NextPosition => nextPosition;
}

/// <summary>
/// Reads 8 KiB metadata blocks (a u16 header: size, bit 15 = stored raw) and keeps the most
/// recently used ones, so walking a directory does not decompress its inode blocks again and again.
/// The cache is bounded; it is shared by all threads.
/// </summary>
internal sealed class MetadataReader
{
    private const int CacheCapacity = 256; // 2 MiB of payload at most

    private readonly ImageSource _source;
    private readonly DecompressorPool _decompressors;
    private readonly Dictionary<long, LinkedListNode<(long Position, MetadataBlock Block)>> _cache = [];
    private readonly LinkedList<(long Position, MetadataBlock Block)> _lru = new();
    private readonly Lock _gate = new();

    public MetadataReader(ImageSource source, DecompressorPool decompressors)
    {
        _source = source;
        _decompressors = decompressors;
    }

    /// <summary>
    /// The block whose header is at <paramref name="position"/> (image-relative). The whole block
    /// must end before <paramref name="limit"/> (the end of the table it belongs to).
    /// </summary>
    public MetadataBlock Read(long position, long limit, Subject what)
    {
        lock (_gate)
        {
            if (_cache.TryGetValue(position, out var hit))
            {
                _lru.Remove(hit);
                _lru.AddFirst(hit);
                if (hit.Value.Block.NextPosition > limit)
                    throw new SquashFsCorruptException($"{what}: metadata block at {position} runs past the end of its table ({limit})");
                return hit.Value.Block;
            }
        }
        var block = Decode(position, limit, what);
        lock (_gate)
        {
            if (!_cache.ContainsKey(position))
            {
                var node = _lru.AddFirst((position, block));
                _cache[position] = node;
                if (_cache.Count > CacheCapacity)
                {
                    var last = _lru.Last!;
                    _lru.RemoveLast();
                    _cache.Remove(last.Value.Position);
                }
            }
        }
        return block;
    }

    private MetadataBlock Decode(long position, long limit, Subject what)
    {
        Span<byte> header = stackalloc byte[2];
        if (position < 0 || position + 2 > limit)
            throw new SquashFsCorruptException($"{what}: metadata block at {position} lies outside its table (ends at {limit})");
        _source.ReadExactly(position, header, what);
        ushort word = BinaryPrimitives.ReadUInt16LittleEndian(header);
        bool compressed = (word & SquashFsConstants.MetadataUncompressedBit) == 0;
        int size = word & 0x7FFF;
        if (size == 0 || size > SquashFsConstants.MetadataBlockSize)
            throw new SquashFsCorruptException($"{what}: metadata block at {position} has size {size} (must be 1..8192)");
        if (position + 2 + size > limit)
            throw new SquashFsCorruptException($"{what}: metadata block at {position} ({size} bytes) runs past the end of its table ({limit})");
        byte[] raw = PooledBuffer.Rent(size);
        try
        {
            _source.ReadExactly(position + 2, raw.AsSpan(0, size), what);
            var data = new byte[SquashFsConstants.MetadataBlockSize];
            int length = _decompressors.Decode(raw.AsSpan(0, size), compressed, data, what, metadataBlock: position);
            if (length <= 0)
                throw new SquashFsCorruptException($"{what}: metadata block at {position} is empty");
            return new MetadataBlock(data, length, position + 2 + size);
        }
        finally
        {
            PooledBuffer.Return(raw);
        }
    }
}
