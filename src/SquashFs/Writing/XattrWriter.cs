using System.Buffers.Binary;
using System.Security.Cryptography;
using Xar.SquashFs.Compression;

namespace Xar.SquashFs.Writing;

/// <summary>
/// The xattr tables: key/value pairs of every distinct attribute set (inodes with equal sets share
/// one id), values seen before stored out of line as a reference to the first copy, and the id table
/// (reference, count, size per set) behind a small header.
/// </summary>
internal sealed class XattrWriter
{
    public const ushort PrefixUser = 0;
    public const ushort PrefixTrusted = 1;
    public const ushort PrefixSecurity = 2;
    private const ushort OutOfLineFlag = 0x0100;

    private readonly MetadataWriter _pairs;
    private readonly Dictionary<string, uint> _sets = new(StringComparer.Ordinal);
    private readonly Dictionary<string, ulong> _values = new(StringComparer.Ordinal);
    private readonly List<(ulong Reference, uint Count, uint Size)> _ids = [];

    public XattrWriter(IBlockCompressor? compressor)
    {
        _pairs = new MetadataWriter(compressor);
    }

    public int Count => _ids.Count;

    /// <summary>Maps "user.x" etc. to (prefix id, rest); false for namespaces SquashFS cannot hold (system.*).</summary>
    public static bool TrySplitName(ReadOnlySpan<byte> fullName, out ushort prefix, out byte[] rest)
    {
        ReadOnlySpan<byte> p;
        if (fullName.StartsWith("user."u8)) { prefix = PrefixUser; p = "user."u8; }
        else if (fullName.StartsWith("trusted."u8)) { prefix = PrefixTrusted; p = "trusted."u8; }
        else if (fullName.StartsWith("security."u8)) { prefix = PrefixSecurity; p = "security."u8; }
        else { prefix = 0; rest = []; return false; }
        rest = fullName[p.Length..].ToArray();
        return rest.Length > 0;
    }

    /// <summary>The id of this attribute set (sorted by the caller), writing its pairs when it is new.</summary>
    public uint Add(IReadOnlyList<Xattr> set)
    {
        string key = SetKey(set);
        if (_sets.TryGetValue(key, out uint id))
            return id;
        var start = _pairs.Position;
        long before = _pairs.UncompressedLength;
        foreach (var x in set)
        {
            string valueKey = x.Value.Length > 8 ? ValueKey(x.Value) : "";
            bool outOfLine = valueKey.Length > 0 && _values.ContainsKey(valueKey);
            _pairs.WriteUInt16((ushort)(x.Prefix | (outOfLine ? OutOfLineFlag : 0)));
            _pairs.WriteUInt16((ushort)x.Name.Length);
            _pairs.Write(x.Name);
            if (outOfLine)
            {
                _pairs.WriteUInt32(8);
                _pairs.WriteUInt64(_values[valueKey]);
            }
            else
            {
                if (valueKey.Length > 0)
                    _values.Add(valueKey, _pairs.Position.Packed);
                _pairs.WriteUInt32((uint)x.Value.Length);
                _pairs.Write(x.Value);
            }
        }
        id = (uint)_ids.Count;
        _ids.Add((start.Packed, (uint)set.Count, (uint)(_pairs.UncompressedLength - before)));
        _sets.Add(key, id);
        return id;
    }

    private static string SetKey(IReadOnlyList<Xattr> set)
    {
        using var hash = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
        Span<byte> n = stackalloc byte[10];
        foreach (var x in set)
        {
            BinaryPrimitives.WriteUInt16LittleEndian(n, x.Prefix);
            BinaryPrimitives.WriteInt32LittleEndian(n[2..], x.Name.Length);
            BinaryPrimitives.WriteInt32LittleEndian(n[6..], x.Value.Length);
            hash.AppendData(n);
            hash.AppendData(x.Name);
            hash.AppendData(x.Value);
        }
        return Convert.ToBase64String(hash.GetHashAndReset());
    }

    private static string ValueKey(byte[] value) => Convert.ToBase64String(SHA256.HashData(value)) + value.Length;

    /// <summary>Writes pairs, id table and header; returns the image offset of the header (superblock field).</summary>
    public ulong Write(ImageOutput output, IBlockCompressor? compressor)
    {
        _pairs.Flush();
        long pairsStart = output.Position;
        output.Write(_pairs.Table);
        var entries = new byte[_ids.Count * 16];
        for (int i = 0; i < _ids.Count; i++)
        {
            var e = entries.AsSpan(i * 16);
            BinaryPrimitives.WriteUInt64LittleEndian(e, _ids[i].Reference);
            BinaryPrimitives.WriteUInt32LittleEndian(e[8..], _ids[i].Count);
            BinaryPrimitives.WriteUInt32LittleEndian(e[12..], _ids[i].Size);
        }
        var (blocksStart, offsets) = LookupTableWriter.WriteBlocks(output, entries, compressor);
        ulong headerStart = (ulong)output.Position;
        Span<byte> header = stackalloc byte[16];
        BinaryPrimitives.WriteUInt64LittleEndian(header, (ulong)pairsStart);
        BinaryPrimitives.WriteUInt32LittleEndian(header[8..], (uint)_ids.Count);
        BinaryPrimitives.WriteUInt32LittleEndian(header[12..], 0);
        output.Write(header);
        LookupTableWriter.WriteLocations(output, blocksStart, offsets);
        return headerStart;
    }
}
