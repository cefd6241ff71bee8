using System.Buffers.Binary;
using Xar.SquashFs.Format;

namespace Xar.SquashFs.Reading;

/// <summary>
/// The xattr tables: an id table (one record per distinct xattr set: where its key/value pairs
/// start, how many, how large) and the key/value metadata table, where a value can be stored
/// out of line (a reference to a value stored earlier).
/// </summary>
internal sealed class XattrReader
{
    /// <summary>Linux's limit for one value (XATTR_SIZE_MAX).</summary>
    public const int MaxValueSize = 65536;
    private const int MaxPairsPerSet = 65536;
    private static readonly byte[][] Prefixes = ["user."u8.ToArray(), "trusted."u8.ToArray(), "security."u8.ToArray()];

    private readonly MetadataReader _reader;
    private readonly LookupTable _ids;
    private readonly long _kvStart;
    private readonly long _kvEnd;

    public XattrReader(ImageSource source, MetadataReader reader, Superblock sb)
    {
        _reader = reader;
        long tableStart = (long)sb.XattrIdTableStart;
        Span<byte> head = stackalloc byte[16];
        source.ReadExactly(tableStart, head, "xattr id table");
        ulong kvStart = BinaryPrimitives.ReadUInt64LittleEndian(head);
        uint count = BinaryPrimitives.ReadUInt32LittleEndian(head[8..]);
        if (kvStart < SquashFsConstants.SuperblockSize || kvStart >= (ulong)tableStart)
            throw new SquashFsCorruptException($"xattr id table: key/value table start {kvStart} lies outside the image (before {tableStart})");
        _kvStart = (long)kvStart;
        _ids = new LookupTable(source, reader, tableStart + 16, count, 16, _kvStart, "xattr id table");
        // The key/value blocks come before the id table's own blocks.
        _kvEnd = _ids.BlockCount > 0 ? _ids.FirstBlock : tableStart;
        if (_kvEnd < _kvStart)
            throw new SquashFsCorruptException("xattr id table: its blocks start before the key/value table");
    }

    public LookupTable IdTable => _ids;

    public long Count => _ids.Count;

    public IReadOnlyList<SquashFsXattr> Read(uint index)
    {
        var what = new Subject("xattr set {0}", index);
        Span<byte> rec = stackalloc byte[16];
        _ids.Read(index, rec);
        var reference = MetadataReference.FromPacked(BinaryPrimitives.ReadUInt64LittleEndian(rec));
        uint count = BinaryPrimitives.ReadUInt32LittleEndian(rec[8..]);
        if (count > MaxPairsPerSet)
            throw new SquashFsCorruptException($"{what}: {count} pairs is absurd");
        var c = new MetadataCursor(_reader, _kvStart, _kvEnd, reference.Block, reference.Offset, what);
        var result = new List<SquashFsXattr>((int)Math.Min(count, 64));
        for (uint i = 0; i < count; i++)
        {
            ushort type = c.ReadUInt16();
            ushort nameSize = c.ReadUInt16();
            int prefix = type & 0xFF;
            bool outOfLine = (type & 0x100) != 0;
            if (prefix >= Prefixes.Length || (type & ~0x1FF) != 0)
                throw new SquashFsCorruptException($"{what}: unknown xattr prefix id {type}");
            if (nameSize > 255)
                throw new SquashFsCorruptException($"{what}: xattr name of {nameSize} bytes (at most 255)");
            var name = new byte[Prefixes[prefix].Length + nameSize];
            Prefixes[prefix].CopyTo(name, 0);
            c.Read(name.AsSpan(Prefixes[prefix].Length));
            if (name.AsSpan().Contains((byte)0))
                throw new SquashFsCorruptException($"{what}: xattr name contains a NUL byte");
            uint valueSize = c.ReadUInt32();
            byte[] value;
            if (outOfLine)
            {
                if (valueSize != 8)
                    throw new SquashFsCorruptException($"{what}: out-of-line value reference of {valueSize} bytes (must be 8)");
                var valueRef = MetadataReference.FromPacked(c.ReadUInt64());
                var vc = new MetadataCursor(_reader, _kvStart, _kvEnd, valueRef.Block, valueRef.Offset, new Subject("xattr set {0} value", index));
                value = ReadValue(vc, vc.ReadUInt32(), what);
            }
            else
            {
                value = ReadValue(c, valueSize, what);
            }
            result.Add(new SquashFsXattr(name, value));
        }
        return result;
    }

    private static byte[] ReadValue(MetadataCursor c, uint size, Subject what)
    {
        if (size > MaxValueSize)
            throw new SquashFsCorruptException($"{what}: value of {size} bytes (at most {MaxValueSize})");
        var value = new byte[size];
        c.Read(value);
        return value;
    }
}
