using System.Buffers.Binary;
using Xar.SquashFs.Format;

namespace Xar.SquashFs.Reading;

/// <summary>The NFS export table: inode number → inode reference.</summary>
internal sealed class ExportTable(LookupTable table)
{
    public LookupTable Table => table;

    public MetadataReference Get(uint inodeNumber)
    {
        if (inodeNumber == 0 || inodeNumber > table.Count)
            throw new SquashFsCorruptException($"export table: inode number {inodeNumber} is out of range (1..{table.Count})");
        Span<byte> b = stackalloc byte[8];
        table.Read(inodeNumber - 1, b);
        return MetadataReference.FromPacked(BinaryPrimitives.ReadUInt64LittleEndian(b));
    }
}
