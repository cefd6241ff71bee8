using System.Buffers.Binary;
using Xar.SquashFs.Compression;
using Xar.SquashFs.Format;
using Xar.SquashFs.Writing;

namespace Xar.SquashFs.Tests;

/// <summary>The writer's tables checked against the format's rules (format.adoc), byte by byte.</summary>
public class WritingTableTests
{
    private static IBlockCompressor Gzip() => CompressorFactory.CreateCompressor(new CompressionOptions { Algorithm = SquashFsCompression.Gzip }, 131072);

    /// <summary>Splits a metadata table into (header, payload) blocks.</summary>
    private static List<(ushort Header, byte[] Stored)> Blocks(ReadOnlySpan<byte> table)
    {
        var result = new List<(ushort, byte[])>();
        while (!table.IsEmpty)
        {
            ushort header = BinaryPrimitives.ReadUInt16LittleEndian(table);
            int size = header & 0x7FFF;
            result.Add((header, table.Slice(2, size).ToArray()));
            table = table[(2 + size)..];
        }
        return result;
    }

    /// <summary>The uncompressed stream of a table written without compression.</summary>
    private static byte[] RawStream(ReadOnlySpan<byte> table)
    {
        var all = new List<byte>();
        foreach (var (header, stored) in Blocks(table))
        {
            Assert.True((header & 0x8000) != 0);
            all.AddRange(stored);
        }
        return all.ToArray();
    }

    [Fact]
    public void MetadataBlocksHold8KiBAndMarkRawBlocks()
    {
        var w = new MetadataWriter(null);
        w.Write(new byte[8192]);
        Assert.Equal(new MetadataReference(8194, 0), w.Position); // the full block went out, header included
        w.Write(new byte[] { 1, 2, 3 });
        w.Flush();
        var blocks = Blocks(w.Table);
        Assert.Equal(2, blocks.Count);
        Assert.Equal(0x8000 | 8192, blocks[0].Header);
        Assert.Equal(0x8000 | 3, blocks[1].Header);
        Assert.Equal(new byte[] { 1, 2, 3 }, blocks[1].Stored);
    }

    [Fact]
    public void CompressedMetadataBlocksHaveBit15ClearAndIncompressibleOnesSet()
    {
        using var gzip = Gzip();
        var w = new MetadataWriter(gzip);
        w.Write(new byte[8192]); // compressible full block
        var random = new byte[8192 + 100];
        new Random(5).NextBytes(random);
        w.Write(random); // an incompressible block, then 100 bytes in a last block
        w.Flush();
        var blocks = Blocks(w.Table);
        Assert.Equal(3, blocks.Count);
        Assert.Equal(0, blocks[0].Header & 0x8000);
        Assert.True((blocks[0].Header & 0x7FFF) < 100);
        Assert.Equal(random.AsSpan(0, 8192).ToArray(), blocks[1].Stored);
        Assert.Equal(0x8000 | 8192, blocks[1].Header);
        Assert.Equal(0x8000 | 100, blocks[2].Header);
        using var d = CompressorFactory.CreateDecompressor(SquashFsCompression.Gzip);
        var out8k = new byte[8192];
        Assert.Equal(8192, d.Decompress(blocks[0].Stored, out8k));
        Assert.All(out8k, b => Assert.Equal(0, b));
    }

    [Fact]
    public void RecordsSpanBlocksWithoutGaps()
    {
        var w = new MetadataWriter(null);
        w.Write(new byte[8190]);
        var at = w.Position;
        Assert.Equal(new MetadataReference(0, 8190), at);
        w.WriteUInt32(0xAABBCCDD);
        w.Flush();
        var raw = RawStream(w.Table);
        Assert.Equal(0xAABBCCDDu, BinaryPrimitives.ReadUInt32LittleEndian(raw.AsSpan(8190)));
    }

    [Fact]
    public void IdTableIndexesInOrderOfFirstUse()
    {
        var ids = new IdTable();
        Assert.Equal(0, ids.GetIndex(1000));
        Assert.Equal(1, ids.GetIndex(0));
        Assert.Equal(0, ids.GetIndex(1000));
        Assert.Equal(2, ids.GetIndex(4294967294));
        var bytes = ids.Encode();
        Assert.Equal(12, bytes.Length);
        Assert.Equal(1000u, BinaryPrimitives.ReadUInt32LittleEndian(bytes));
        Assert.Equal(0u, BinaryPrimitives.ReadUInt32LittleEndian(bytes.AsSpan(4)));
        Assert.Equal(4294967294u, BinaryPrimitives.ReadUInt32LittleEndian(bytes.AsSpan(8)));
    }

    [Fact]
    public void IdTableRefusesMoreThan65536Ids()
    {
        var ids = new IdTable();
        for (uint i = 0; i < 65536; i++)
            ids.GetIndex(i);
        Assert.Throws<InvalidOperationException>(() => ids.GetIndex(70000));
    }

    [Fact]
    public void LookupTableListsAbsoluteBlockOffsetsAfterTheBlocks()
    {
        using var stream = new MemoryStream();
        stream.Write(new byte[100]);
        var output = new ImageOutput(stream);
        output.WriteZeros(96); // image starts at stream offset 100
        var entries = new byte[3000 * 4]; // 12000 bytes: two metadata blocks
        ulong listStart = LookupTableWriter.Write(output, entries, null);
        var image = stream.ToArray().AsSpan(100);
        Assert.Equal(96 + 2 + 8192 + 2 + (12000 - 8192), (int)listStart);
        Assert.Equal(96ul, BinaryPrimitives.ReadUInt64LittleEndian(image[(int)listStart..]));
        Assert.Equal(96ul + 2 + 8192, BinaryPrimitives.ReadUInt64LittleEndian(image[((int)listStart + 8)..]));
        Assert.Equal((int)listStart + 16, image.Length);
    }

    [Theory]
    [InlineData(1, 3, 0x103u)]
    [InlineData(7, 0, 0x700u)]
    [InlineData(259, 65536, 0x10010300u)]
    [InlineData(4095, 1048575, 0xFFFFFFFFu)]
    [InlineData(0, 0, 0u)]
    public void DevicesAreEncodedAsNewEncodeDev(uint major, uint minor, uint expected)
    {
        uint dev = TreeScanner.EncodeDevice(major, minor);
        Assert.Equal(expected, dev);
        // format.adoc's decoding gives the numbers back
        Assert.Equal(major, (dev & 0xFFF00) >> 8);
        Assert.Equal(minor, (dev & 0xFF) | ((dev >> 12) & 0xFFF00));
    }
}
