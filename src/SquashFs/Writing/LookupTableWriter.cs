using System.Buffers.Binary;
using Xar.SquashFs.Compression;

namespace Xar.SquashFs.Writing;

/// <summary>
/// Writes a lookup table (id, fragment, export, xattr id): the entries as metadata blocks, followed
/// by the uncompressed list of the blocks' absolute image offsets, which the superblock points to.
/// </summary>
internal static class LookupTableWriter
{
    /// <summary>Writes the table at the output's position; returns the image offset of the location list.</summary>
    public static ulong Write(ImageOutput output, ReadOnlySpan<byte> entries, IBlockCompressor? compressor)
    {
        var (blocksStart, locations) = WriteBlocks(output, entries, compressor);
        ulong listStart = (ulong)output.Position;
        WriteLocations(output, blocksStart, locations);
        return listStart;
    }

    /// <summary>Writes only the metadata blocks; returns where they start and each block's table-relative offset.</summary>
    public static (long Start, List<long> BlockOffsets) WriteBlocks(ImageOutput output, ReadOnlySpan<byte> entries, IBlockCompressor? compressor)
    {
        var meta = new MetadataWriter(compressor);
        var offsets = new List<long>();
        int blockSize = Format.SquashFsConstants.MetadataBlockSize;
        for (int i = 0; i < entries.Length; i += blockSize)
        {
            offsets.Add(meta.CurrentBlockStart);
            meta.Write(entries.Slice(i, Math.Min(blockSize, entries.Length - i)));
        }
        meta.Flush();
        long start = output.Position;
        output.Write(meta.Table);
        return (start, offsets);
    }

    public static void WriteLocations(ImageOutput output, long blocksStart, List<long> blockOffsets)
    {
        Span<byte> b = stackalloc byte[8];
        foreach (long offset in blockOffsets)
        {
            BinaryPrimitives.WriteUInt64LittleEndian(b, (ulong)(blocksStart + offset));
            output.Write(b);
        }
    }
}
