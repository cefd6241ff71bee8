using System.Buffers.Binary;
using Xar.SquashFs.Format;

namespace Xar.SquashFs.Reading;

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
