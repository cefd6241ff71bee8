using System.Buffers.Binary;
using Xar.SquashFs.Compression;

namespace Xar.SquashFs.Writing;

/// <summary>The uid/gid table: inodes store a 16-bit index; ids get indexes in order of first use.</summary>
internal sealed class IdTable
{
    public const int MaxIds = 65536;

    private readonly Dictionary<uint, ushort> _indexes = [];
    private readonly List<uint> _ids = [];

    public int Count => _ids.Count;

    public IReadOnlyList<uint> Ids => _ids;

    /// <exception cref="InvalidOperationException">More than 65536 distinct ids.</exception>
    public ushort GetIndex(uint id)
    {
        if (_indexes.TryGetValue(id, out ushort index))
            return index;
        if (_ids.Count == MaxIds)
            throw new InvalidOperationException($"the tree has more than {MaxIds} distinct uids and gids, the most a SquashFS image can hold");
        index = (ushort)_ids.Count;
        _ids.Add(id);
        _indexes.Add(id, index);
        return index;
    }

    /// <summary>The table's entries as stored (u32 each, little-endian).</summary>
    public byte[] Encode()
    {
        var bytes = new byte[_ids.Count * 4];
        for (int i = 0; i < _ids.Count; i++)
            BinaryPrimitives.WriteUInt32LittleEndian(bytes.AsSpan(i * 4), _ids[i]);
        return bytes;
    }

    public ulong Write(ImageOutput output, IBlockCompressor? compressor) => LookupTableWriter.Write(output, Encode(), compressor);
}
