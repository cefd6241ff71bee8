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

    /// <summary>The longest full name: "security." and 255 bytes.</summary>
    public const int MaxNameLength = 9 + 255;

    /// <summary>
    /// xar's limit on one set's names and values together, when a whole set is read (extraction,
    /// the API, verify); Linux cannot even list more than 64 KiB of names. The FUSE server walks
    /// a set instead and has no need of it.
    /// </summary>
    public const int MaxSetBytes = 16 << 20;
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

    /// <summary>
    /// Starts a walk of set <paramref name="index"/>; names are read into <paramref name="nameBuffer"/>
    /// (at least <see cref="MaxNameLength"/> bytes).
    /// </summary>
    public XattrWalker Walk(uint index, Span<byte> nameBuffer)
    {
        var what = new Subject("xattr set {0}", index);
        Span<byte> rec = stackalloc byte[16];
        _ids.Read(index, rec);
        var reference = MetadataReference.FromPacked(BinaryPrimitives.ReadUInt64LittleEndian(rec));
        uint count = BinaryPrimitives.ReadUInt32LittleEndian(rec[8..]);
        if (count > MaxPairsPerSet)
            throw new SquashFsCorruptException($"{what}: {count} pairs is absurd");
        var cursor = new MetadataCursor(_reader, _kvStart, _kvEnd, reference.Block, reference.Offset, what);
        return new XattrWalker(this, cursor, count, index, nameBuffer);
    }

    /// <summary>
    /// The whole set, names and values. Refused beyond <see cref="MaxSetBytes"/>: out-of-line
    /// values may all name one stored value, so a small image could otherwise ask for gigabytes.
    /// </summary>
    public IReadOnlyList<SquashFsXattr> Read(uint index)
    {
        var result = new List<SquashFsXattr>();
        ReadSet(index, result);
        return result;
    }

    /// <summary>Checks set <paramref name="index"/> as <see cref="Read"/> would read it, without keeping a value.</summary>
    public void Check(uint index) => ReadSet(index, null);

    private void ReadSet(uint index, List<SquashFsXattr>? result)
    {
        Span<byte> name = stackalloc byte[MaxNameLength];
        var walker = Walk(index, name);
        long total = 0;
        while (walker.MoveNext())
        {
            int size = walker.ValueSize();
            total += walker.Name.Length + size;
            if (total > MaxSetBytes)
                throw new SquashFsCorruptException($"xattr set {index}: its names and values come to more than {MaxSetBytes >> 20} MiB (xar's limit)");
            if (result is null)
            {
                walker.SkipValue();
                continue;
            }
            var value = new byte[size];
            walker.ReadValue(value);
            result.Add(new SquashFsXattr(walker.Name.ToArray(), value));
        }
    }

    internal MetadataCursor OpenValue(MetadataReference reference, uint index) =>
        new(_reader, _kvStart, _kvEnd, reference.Block, reference.Offset, new Subject("xattr set {0} value", index));

    internal static ReadOnlySpan<byte> Prefix(int id) => Prefixes[id];
}

/// <summary>
/// One pass over an xattr set, pair by pair: each name is read into the caller's buffer, a value
/// only when asked for (an out-of-line one is followed only then). A walk costs the pairs' headers
/// and names whatever their values add up to, and allocates nothing per pair.
/// </summary>
internal ref struct XattrWalker
{
    private readonly XattrReader _reader;
    private readonly MetadataCursor _cursor;
    private readonly Span<byte> _name;
    private readonly uint _index;
    private uint _remaining;
    private int _nameLength;
    private bool _outOfLine;
    private MetadataReference _valueReference;
    private MetadataCursor? _valueCursor; // at the out-of-line value's bytes, once its size was read
    private int _valueSize; // -1: an out-of-line size not read yet
    private bool _valuePending; // the value's bytes are still ahead of their cursor

    internal XattrWalker(XattrReader reader, MetadataCursor cursor, uint count, uint index, Span<byte> nameBuffer)
    {
        _reader = reader;
        _cursor = cursor;
        _remaining = count;
        _index = index;
        _name = nameBuffer;
    }

    /// <summary>The current pair's full name, with its prefix ("user.", "trusted.", "security.").</summary>
    public readonly ReadOnlySpan<byte> Name => _name[.._nameLength];

    public bool MoveNext()
    {
        if (_valuePending && !_outOfLine)
            _cursor.Skip(_valueSize); // an inline value not read
        _valuePending = false;
        _valueCursor = null;
        if (_remaining == 0)
            return false;
        _remaining--;
        var what = new Subject("xattr set {0}", _index);
        ushort type = _cursor.ReadUInt16();
        ushort nameSize = _cursor.ReadUInt16();
        int prefix = type & 0xFF;
        _outOfLine = (type & 0x100) != 0;
        if (prefix > 2 || (type & ~0x1FF) != 0)
            throw new SquashFsCorruptException($"{what}: unknown xattr prefix id {type}");
        if (nameSize > 255)
            throw new SquashFsCorruptException($"{what}: xattr name of {nameSize} bytes (at most 255)");
        var p = XattrReader.Prefix(prefix);
        p.CopyTo(_name);
        _nameLength = p.Length + nameSize;
        _cursor.Read(_name[p.Length.._nameLength]);
        if (Name.Contains((byte)0))
            throw new SquashFsCorruptException($"{what}: xattr name contains a NUL byte");
        uint valueSize = _cursor.ReadUInt32();
        if (_outOfLine)
        {
            if (valueSize != 8)
                throw new SquashFsCorruptException($"{what}: out-of-line value reference of {valueSize} bytes (must be 8)");
            _valueReference = MetadataReference.FromPacked(_cursor.ReadUInt64());
            _valueSize = -1;
        }
        else
        {
            _valueSize = CheckSize(valueSize);
        }
        _valuePending = true;
        return true;
    }

    /// <summary>The current value's size (an out-of-line value's is read where it is stored).</summary>
    public int ValueSize()
    {
        if (_valueSize < 0)
        {
            _valueCursor = _reader.OpenValue(_valueReference, _index);
            _valueSize = CheckSize(_valueCursor.ReadUInt32());
        }
        return _valueSize;
    }

    /// <summary>Reads the current value into the first <see cref="ValueSize"/> bytes of <paramref name="destination"/>; once per pair.</summary>
    public void ReadValue(Span<byte> destination)
    {
        int size = ValueSize();
        if (!_valuePending)
            throw new InvalidOperationException("the value was read already");
        (_outOfLine ? _valueCursor! : _cursor).Read(destination[..size]);
        _valuePending = false;
    }

    /// <summary>Passes over the current value, still reading (and so checking) the blocks it lies in.</summary>
    public void SkipValue()
    {
        int size = ValueSize();
        if (!_valuePending)
            return;
        (_outOfLine ? _valueCursor! : _cursor).Skip(size);
        _valuePending = false;
    }

    private readonly int CheckSize(uint size)
    {
        if (size > XattrReader.MaxValueSize)
            throw new SquashFsCorruptException($"xattr set {_index}: value of {size} bytes (at most {XattrReader.MaxValueSize})");
        return (int)size;
    }
}
