using Xar.SquashFs.Format;

namespace Xar.SquashFs.Writing;

/// <summary>
/// Writes directory listings into the directory table. Entries (sorted by name bytes) are grouped
/// in runs under a header (count, inode block, base inode number); a new run starts after 256
/// entries, when the inode block changes, when an inode number is more than ±32767 from the base,
/// and whenever the listing enters a new 8 KiB metadata block. Those block-starting headers become
/// the directory index of a listing larger than one metadata block (stored in the extended inode),
/// which lets readers jump close to a name instead of scanning the whole listing.
/// </summary>
internal sealed class DirectoryWriter(MetadataWriter table)
{
    private const int HeaderSize = 12;
    private const int EntrySize = 8;
    private const int Block = SquashFsConstants.MetadataBlockSize;
    private byte[] _buffer = new byte[HeaderSize + 256 * (EntrySize + 256)];

    public DirectoryListing Write(SourceDirectory directory)
    {
        var start = table.Position;
        long listingStart = table.UncompressedLength;
        var index = new List<DirectoryIndexEntry>();
        long lastIndexedBlock = listingStart / Block;
        var entries = directory.Entries;
        int i = 0;
        while (i < entries.Count)
        {
            long headerAt = table.UncompressedLength;
            long headerBlock = headerAt / Block;
            var first = entries[i].Inode;
            ulong inodeBlock = first.Reference.Block;
            long baseNumber = first.Number;
            long position = headerAt + HeaderSize;
            int j = i;
            while (j < entries.Count && j - i < SquashFsConstants.MaxEntriesPerDirectoryHeader)
            {
                var inode = entries[j].Inode;
                long delta = inode.Number - baseNumber;
                if (inode.Reference.Block != inodeBlock || delta < short.MinValue || delta > short.MaxValue)
                    break;
                if (j > i && position / Block != headerBlock)
                    break;
                position += EntrySize + entries[j].Name.Length;
                j++;
            }
            if (headerBlock != lastIndexedBlock)
            {
                index.Add(new DirectoryIndexEntry((uint)(headerAt - listingStart), (uint)table.CurrentBlockStart, entries[i].Name));
                lastIndexedBlock = headerBlock;
            }
            if (inodeBlock > uint.MaxValue)
                throw new InvalidOperationException("the inode table is larger than 4 GiB");
            var w = new SpanWriter(_buffer);
            w.U32((uint)(j - i - 1));
            w.U32((uint)inodeBlock);
            w.I32((int)baseNumber);
            for (int k = i; k < j; k++)
            {
                var e = entries[k];
                w.U16(e.Inode.Reference.Offset);
                w.I16((short)(e.Inode.Number - baseNumber));
                w.U16((ushort)e.Inode.Type.ToBasic());
                w.U16((ushort)(e.Name.Length - 1));
                w.Bytes(e.Name);
            }
            table.Write(w.Written);
            i = j;
        }
        long size = table.UncompressedLength - listingStart;
        if (size < Block)
            index.Clear(); // a listing inside one or two blocks is scanned as fast as it is indexed
        if (size + 3 > uint.MaxValue)
            throw new InvalidOperationException("a directory listing is larger than 4 GiB");
        if (start.Block > uint.MaxValue)
            throw new InvalidOperationException("the directory table is larger than 4 GiB");
        return new DirectoryListing((uint)start.Block, start.Offset, (uint)size, index);
    }
}
