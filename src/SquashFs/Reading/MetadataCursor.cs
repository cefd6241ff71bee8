using System.Numerics;
using System.Runtime.CompilerServices;
using Xar.SquashFs.Format;

namespace Xar.SquashFs.Reading;

/// <summary>
/// Reads a stream of records from a metadata table (inode, directory, xattr key/value table),
/// crossing block boundaries as the records do. Positions are (block start relative to the table,
/// offset in the block), as references store them.
/// </summary>
internal sealed class MetadataCursor
{
    private readonly MetadataReader _reader;
    private readonly long _tableStart;
    private readonly long _tableEnd;
    private readonly Subject _what;
    private MetadataBlock _block;
    private long _blockPosition;
    private int _offset;

    public MetadataCursor(MetadataReader reader, long tableStart, long tableEnd, ulong block, int offset, Subject what)
    {
        _reader = reader;
        _tableStart = tableStart;
        _tableEnd = tableEnd;
        _what = what;
        if (block >= (ulong)(tableEnd - tableStart))
            throw new SquashFsCorruptException($"{what}: reference to block {block} lies outside its table ({tableEnd - tableStart} bytes)");
        _blockPosition = tableStart + (long)block;
        _block = reader.Read(_blockPosition, tableEnd, what);
        if (offset > _block.Length)
            throw new SquashFsCorruptException($"{what}: offset {offset} is past the end of metadata block {block} ({_block.Length} bytes)");
        _offset = offset;
    }

    /// <summary>Where the next byte comes from, as a table-relative reference.</summary>
    public MetadataReference Position => new((ulong)(_blockPosition - _tableStart), (ushort)_offset);

    public void Read(Span<byte> destination)
    {
        while (!destination.IsEmpty)
        {
            if (_offset == _block.Length)
                NextBlock();
            int n = Math.Min(destination.Length, _block.Length - _offset);
            _block.Payload.Slice(_offset, n).CopyTo(destination);
            _offset += n;
            destination = destination[n..];
        }
    }

    public void Skip(long count)
    {
        while (count > 0)
        {
            if (_offset == _block.Length)
                NextBlock();
            int n = (int)Math.Min(count, _block.Length - _offset);
            _offset += n;
            count -= n;
        }
    }

    public ushort ReadUInt16() => ReadInteger<ushort>();

    public uint ReadUInt32() => ReadInteger<uint>();

    public ulong ReadUInt64() => ReadInteger<ulong>();

    // A field inside the current block is read in place; only one that crosses into the next block is copied.
    private T ReadInteger<T>() where T : unmanaged, IBinaryInteger<T>
    {
        int size = Unsafe.SizeOf<T>();
        if (_block.Length - _offset >= size)
        {
            T value = T.ReadLittleEndian(_block.Payload.Slice(_offset, size), isUnsigned: true);
            _offset += size;
            return value;
        }
        Span<byte> b = stackalloc byte[8];
        Read(b[..size]);
        return T.ReadLittleEndian(b[..size], isUnsigned: true);
    }

    private void NextBlock()
    {
        long next = _block.NextPosition;
        if (next >= _tableEnd)
            throw new SquashFsCorruptException($"{_what}: record runs past the end of its table");
        _blockPosition = next;
        _block = _reader.Read(next, _tableEnd, _what);
        _offset = 0;
    }
}
