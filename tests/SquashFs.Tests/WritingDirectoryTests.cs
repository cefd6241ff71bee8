using System.Buffers.Binary;
using System.Text;
using Xar.SquashFs.Format;
using Xar.SquashFs.Writing;

namespace Xar.SquashFs.Tests;

/// <summary>Directory listings: headers of at most 256 entries per inode block, ±32767 number deltas, the index.</summary>
public class WritingDirectoryTests
{
    private sealed record Header(int Count, uint InodeBlock, int BaseNumber, int At);

    private sealed record Entry(ushort Offset, short Delta, ushort Type, string Name);

    private static byte[] RawStream(ReadOnlySpan<byte> table)
    {
        var all = new List<byte>();
        while (!table.IsEmpty)
        {
            int size = BinaryPrimitives.ReadUInt16LittleEndian(table) & 0x7FFF;
            all.AddRange(table.Slice(2, size).ToArray());
            table = table[(2 + size)..];
        }
        return all.ToArray();
    }

    private static (List<Header>, List<Entry>) Parse(ReadOnlySpan<byte> listing)
    {
        var headers = new List<Header>();
        var entries = new List<Entry>();
        int p = 0;
        while (p < listing.Length)
        {
            var h = new Header((int)BinaryPrimitives.ReadUInt32LittleEndian(listing[p..]) + 1,
                BinaryPrimitives.ReadUInt32LittleEndian(listing[(p + 4)..]), BinaryPrimitives.ReadInt32LittleEndian(listing[(p + 8)..]), p);
            headers.Add(h);
            p += 12;
            for (int i = 0; i < h.Count; i++)
            {
                int nameLength = BinaryPrimitives.ReadUInt16LittleEndian(listing[(p + 6)..]) + 1;
                entries.Add(new Entry(BinaryPrimitives.ReadUInt16LittleEndian(listing[p..]), BinaryPrimitives.ReadInt16LittleEndian(listing[(p + 2)..]),
                    BinaryPrimitives.ReadUInt16LittleEndian(listing[(p + 4)..]), Encoding.Latin1.GetString(listing.Slice(p + 8, nameLength))));
                p += 8 + nameLength;
            }
        }
        return (headers, entries);
    }

    private static SourceDirectory Directory(int count, Func<int, (uint Number, ulong Block, ushort Offset, InodeType Type)> inode, int nameLength = 8)
    {
        var dir = new SourceDirectory();
        for (int i = 0; i < count; i++)
        {
            var (number, block, offset, type) = inode(i);
            var node = new SourceInode { Type = type, Number = number, Reference = new MetadataReference(block, offset) };
            string name = i.ToString("D6").PadRight(nameLength, 'x');
            dir.Entries.Add(new SourceEntry(Encoding.ASCII.GetBytes(name), node));
        }
        return dir;
    }

    [Fact]
    public void AtMost256EntriesPerHeader()
    {
        var table = new MetadataWriter(null);
        var listing = new DirectoryWriter(table).Write(Directory(500, i => ((uint)(i + 1), 0, (ushort)(i * 10 % 8192), InodeType.File), nameLength: 6));
        table.Flush();
        var raw = RawStream(table.Table);
        var (headers, entries) = Parse(raw.AsSpan(0, (int)listing.Size));
        Assert.Equal(500, entries.Count);
        Assert.Equal(new[] { 256, 244 }, headers.Select(h => h.Count));
        Assert.Equal(1, headers[0].BaseNumber);
        Assert.Equal(257, headers[1].BaseNumber);
        Assert.Equal(Enumerable.Range(0, 500).Select(i => (short)(i % 256)), entries.Select(e => e.Delta));
        Assert.Equal(2 * 12 + 500 * (8 + 6), (int)listing.Size);
        Assert.Empty(listing.Index); // under 8 KiB: no index
    }

    [Fact]
    public void NewHeaderWhenTheInodeBlockChangesOrTheDeltaIsTooLarge()
    {
        var table = new MetadataWriter(null);
        var listing = new DirectoryWriter(table).Write(Directory(5, i => i switch
        {
            0 => (10u, 0ul, (ushort)0, InodeType.File),
            1 => (11u, 0ul, (ushort)40, InodeType.ExtendedFile),
            2 => (12u, 5000ul, (ushort)8, InodeType.Directory),
            3 => (12u + 40000, 5000ul, (ushort)90, InodeType.Symlink),
            _ => (12u + 40001, 5000ul, (ushort)99, InodeType.ExtendedSymlink),
        }));
        table.Flush();
        var (headers, entries) = Parse(RawStream(table.Table).AsSpan(0, (int)listing.Size));
        Assert.Equal(new[] { (2, 0u, 10), (1, 5000u, 12), (2, 5000u, 40012) }, headers.Select(h => (h.Count, h.InodeBlock, h.BaseNumber)));
        // the entry stores the basic type even for extended inodes
        Assert.Equal(new ushort[] { 2, 2, 1, 3, 3 }, entries.Select(e => e.Type));
        Assert.Equal(new ushort[] { 0, 40, 8, 90, 99 }, entries.Select(e => e.Offset));
    }

    [Fact]
    public void LargeListingsGetAnIndexPointingAtHeadersThatStartEachMetadataBlock()
    {
        var table = new MetadataWriter(null);
        table.Write(new byte[1000]); // the listing does not start at a block boundary
        var listing = new DirectoryWriter(table).Write(Directory(3000, i => ((uint)(i + 1), 0, (ushort)(i % 8000), InodeType.File), nameLength: 40));
        table.Flush();
        var raw = RawStream(table.Table);
        var bytes = raw.AsSpan(1000, (int)listing.Size);
        var (headers, entries) = Parse(bytes);
        Assert.Equal(3000, entries.Count);
        Assert.Equal(0u, listing.BlockStart);
        Assert.Equal((ushort)1000, listing.BlockOffset);
        Assert.NotEmpty(listing.Index);
        // Every metadata block boundary crossed by the listing is followed by a header, which is indexed.
        long blocksCrossed = (1000 + listing.Size - 1) / 8192;
        Assert.Equal(blocksCrossed, listing.Index.Count);
        var headerAt = headers.ToDictionary(h => h.At);
        foreach (var index in listing.Index)
        {
            Assert.True(headerAt.TryGetValue((int)index.ListingOffset, out var h), $"index offset {index.ListingOffset} is not a header");
            // "start" is the table-relative disk offset of the block holding that header (raw blocks: 8194 bytes each)
            long streamOffset = 1000 + index.ListingOffset;
            Assert.Equal(streamOffset / 8192 * 8194, index.BlockStart);
            // the name is the first entry after the header
            int firstEntry = headers.TakeWhile(x => x.At < h!.At).Sum(x => x.Count);
            Assert.Equal(entries[firstEntry].Name, Encoding.Latin1.GetString(index.Name));
        }
        // no header's entries run into the next block: each header's block is where all its entries start
        foreach (var h in headers)
            Assert.InRange(h.Count, 1, 256);
    }

    [Fact]
    public void EmptyDirectoryHasAnEmptyListing()
    {
        var table = new MetadataWriter(null);
        table.Write(new byte[10]);
        var listing = new DirectoryWriter(table).Write(new SourceDirectory());
        Assert.Equal(0u, listing.Size);
        Assert.Equal((ushort)10, listing.BlockOffset);
    }
}
