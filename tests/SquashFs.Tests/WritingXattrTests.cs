using System.Buffers.Binary;
using System.Text;
using Xar.SquashFs.Writing;

namespace Xar.SquashFs.Tests;

/// <summary>Extended attributes in the image: name prefixes, shared sets, values stored once.</summary>
public class WritingXattrTests
{
    [Fact]
    public void XattrPrefixesMapToTheFormatsIds()
    {
        Assert.True(XattrWriter.TrySplitName("user.comment"u8, out ushort p, out byte[] rest));
        Assert.Equal((0, "comment"), (p, Encoding.ASCII.GetString(rest)));
        Assert.True(XattrWriter.TrySplitName("trusted.x"u8, out p, out _));
        Assert.Equal(1, p);
        Assert.True(XattrWriter.TrySplitName("security.selinux"u8, out p, out _));
        Assert.Equal(2, p);
        Assert.False(XattrWriter.TrySplitName("system.posix_acl_access"u8, out _, out _));
        Assert.False(XattrWriter.TrySplitName("user."u8, out _, out _));
    }

    [Fact]
    public void EqualSetsShareAnIdAndRepeatedValuesGoOutOfLine()
    {
        var x = new XattrWriter(null);
        byte[] big = Encoding.ASCII.GetBytes("a value longer than eight bytes");
        var set1 = new List<Xattr> { new(0, "a"u8.ToArray(), big), new(1, "t"u8.ToArray(), "v"u8.ToArray()) };
        var set2 = new List<Xattr> { new(0, "b"u8.ToArray(), big) };
        Assert.Equal(0u, x.Add(set1));
        Assert.Equal(1u, x.Add(set2));
        Assert.Equal(0u, x.Add([.. set1]));
        Assert.Equal(2, x.Count);

        using var stream = new MemoryStream();
        var output = new ImageOutput(stream);
        output.WriteZeros(96);
        ulong header = x.Write(output, null);
        var image = stream.ToArray();
        ulong pairsStart = BinaryPrimitives.ReadUInt64LittleEndian(image.AsSpan((int)header));
        Assert.Equal(96ul, pairsStart);
        Assert.Equal(2u, BinaryPrimitives.ReadUInt32LittleEndian(image.AsSpan((int)header + 8)));
        // one raw metadata block of pairs
        int size = BinaryPrimitives.ReadUInt16LittleEndian(image.AsSpan(96)) & 0x7FFF;
        var pairs = image.AsSpan(98, size);
        // set 1: key "a" (type 0) inline value, key "t" (type 1) inline value
        Assert.Equal(0, BinaryPrimitives.ReadUInt16LittleEndian(pairs));
        Assert.Equal(1, BinaryPrimitives.ReadUInt16LittleEndian(pairs[2..]));
        int valueAt = 4 + 1;
        Assert.Equal((uint)big.Length, BinaryPrimitives.ReadUInt32LittleEndian(pairs[valueAt..]));
        int set2At = valueAt + 4 + big.Length + 2 + 2 + 1 + 4 + 1;
        // set 2: key "b" with the out-of-line flag, value size 8, reference to set 1's value
        Assert.Equal(0x0100, BinaryPrimitives.ReadUInt16LittleEndian(pairs[set2At..]));
        Assert.Equal(8u, BinaryPrimitives.ReadUInt32LittleEndian(pairs[(set2At + 5)..]));
        Assert.Equal((ulong)valueAt, BinaryPrimitives.ReadUInt64LittleEndian(pairs[(set2At + 9)..]));
        // id table entry 1: reference to set 2, 1 pair, its size
        int idBlock = 98 + size;
        var ids = image.AsSpan(idBlock + 2);
        Assert.Equal((ulong)set2At, BinaryPrimitives.ReadUInt64LittleEndian(ids[16..]));
        Assert.Equal(1u, BinaryPrimitives.ReadUInt32LittleEndian(ids[24..]));
        Assert.Equal((uint)(2 + 2 + 1 + 4 + 8), BinaryPrimitives.ReadUInt32LittleEndian(ids[28..]));
    }
}
