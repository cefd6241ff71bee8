using Xar.SquashFs.Format;

namespace Xar.SquashFs.Reading;

/// <summary>
/// Reads and decompresses data blocks and fragment blocks. Decoded fragment blocks are kept in a
/// small LRU cache (many small files share one); data blocks are decoded into the caller's buffer.
/// Safe to use from several threads.
/// </summary>
internal sealed class DataBlockReader
{
    private const int FragmentCacheCapacity = 8;

    private readonly ImageSource _source;
    private readonly DecompressorPool _decompressors;
    private readonly FragmentTable? _fragments;
    private readonly int _blockSize;
    private readonly long _dataEnd;
    private readonly LinkedList<(uint Index, byte[] Data, int Length)> _fragmentCache = new();
    private readonly Lock _gate = new();

    public DataBlockReader(ImageSource source, DecompressorPool decompressors, FragmentTable? fragments, int blockSize, long dataEnd)
    {
        _source = source;
        _decompressors = decompressors;
        _fragments = fragments;
        _blockSize = blockSize;
        _dataEnd = dataEnd;
    }

    public int BlockSize => _blockSize;

    /// <summary>Checks a block size word (bit 24 = stored raw; 0 = a sparse block of zeros).</summary>
    public void CheckSizeWord(uint word, Subject what)
    {
        if ((word & ~(0x00FFFFFFu | SquashFsConstants.DataBlockUncompressedBit)) != 0 || (word & 0x00FFFFFF) > _blockSize)
            throw new SquashFsCorruptException($"{what}: block size word 0x{word:x8} is larger than the block size ({_blockSize})");
    }

    /// <summary>
    /// Decodes the data block at <paramref name="position"/> with size word <paramref name="word"/>
    /// into <paramref name="destination"/>, which must come out exactly <paramref name="expected"/> bytes.
    /// A size of 0 is a sparse block: zeros, nothing read.
    /// </summary>
    public void ReadBlock(long position, uint word, Span<byte> destination, int expected, Subject what)
    {
        CheckSizeWord(word, what);
        int diskSize = (int)(word & 0x00FFFFFF);
        if (diskSize == 0)
        {
            destination[..expected].Clear();
            return;
        }
        if (position < SquashFsConstants.SuperblockSize || position > _dataEnd - diskSize)
            throw new SquashFsCorruptException($"{what}: block at {position} (+{diskSize}) lies outside the data area (ends at {_dataEnd})");
        bool compressed = (word & SquashFsConstants.DataBlockUncompressedBit) == 0;
        byte[] raw = PooledBuffer.Rent(diskSize);
        try
        {
            _source.ReadExactly(position, raw.AsSpan(0, diskSize), what);
            int n = _decompressors.Decode(raw.AsSpan(0, diskSize), compressed, destination[..Math.Min(destination.Length, _blockSize)], what);
            if (n != expected)
                throw new SquashFsCorruptException($"{what}: block decoded to {n} bytes, expected {expected}");
        }
        finally
        {
            PooledBuffer.Return(raw);
        }
    }

    /// <summary>Copies <paramref name="length"/> bytes at <paramref name="offset"/> out of fragment block <paramref name="index"/>.</summary>
    public void ReadFragment(uint index, uint offset, Span<byte> destination, Subject what)
    {
        var (data, length) = GetFragment(index, what);
        if (offset > length || destination.Length > length - offset)
            throw new SquashFsCorruptException($"{what}: tail of {destination.Length} bytes at offset {offset} lies past the end of fragment block {index} ({length} bytes)");
        data.AsSpan((int)offset, destination.Length).CopyTo(destination);
    }

    /// <summary>
    /// Decodes fragment block <paramref name="index"/> into <paramref name="destination"/> (at least
    /// BlockSize bytes) and returns its length. Not cached: for callers that keep their own cache.
    /// </summary>
    public int DecodeFragment(uint index, Span<byte> destination, Subject what)
    {
        if (_fragments is null)
            throw new SquashFsCorruptException($"{what}: uses fragment {index}, but the image has no fragment table");
        var entry = _fragments.Get(index);
        byte[] raw = PooledBuffer.Rent(entry.DiskSize);
        try
        {
            var fragment = new Subject("fragment block {0}", index);
            _source.ReadExactly(entry.Start, raw.AsSpan(0, entry.DiskSize), fragment);
            return _decompressors.Decode(raw.AsSpan(0, entry.DiskSize), entry.Compressed, destination[.._blockSize], fragment);
        }
        finally
        {
            PooledBuffer.Return(raw);
        }
    }

    private (byte[] Data, int Length) GetFragment(uint index, Subject what)
    {
        lock (_gate)
        {
            for (var node = _fragmentCache.First; node is not null; node = node.Next)
                if (node.Value.Index == index)
                {
                    _fragmentCache.Remove(node);
                    _fragmentCache.AddFirst(node);
                    return (node.Value.Data, node.Value.Length);
                }
        }
        var data = new byte[_blockSize];
        int length = DecodeFragment(index, data, what);
        lock (_gate)
        {
            _fragmentCache.AddFirst((index, data, length));
            if (_fragmentCache.Count > FragmentCacheCapacity)
                _fragmentCache.RemoveLast();
        }
        return (data, length);
    }
}
