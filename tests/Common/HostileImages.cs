using System.Buffers.Binary;
using System.Text;
using Xar.SquashFs;
using Xar.SquashFs.Compression;
using Xar.SquashFs.Format;

namespace Xar.Tests;

/// <summary>
/// Hostile images made by editing the writer's output: an xattr bomb (one inode with many xattrs
/// whose out-of-line values all name one 64 KiB value) and a directory with one entry whose inode
/// names an owner id the image does not have.
/// </summary>
public static class HostileImages
{
    public const int BombValueSize = 65536;

    /// <summary>The name of pair <paramref name="i"/> of the bomb: user.v (the stored value), user.aNNNNN (references to it), user.empty last.</summary>
    public static string BombName(int i, int pairs) => i == 0 ? "user.v" : i == pairs - 1 ? "user.empty" : $"user.a{i:D5}";

    public static byte[] BombValue()
    {
        var value = new byte[BombValueSize];
        for (int i = 0; i < value.Length; i++)
            value[i] = (byte)(i * 7 + i / 251);
        return value;
    }

    /// <summary>
    /// An image of a tree with a file "bomb" (and "plain", "dir/inner" without xattrs) whose xattr
    /// set has <paramref name="pairs"/> pairs: user.v holds <see cref="BombValue"/>, every pair but the
    /// first and last is an out-of-line reference to it, the last is user.empty (an empty value).
    /// The writer's xattr tables are replaced by hand-made ones of uncompressed metadata blocks.
    /// </summary>
    public static void XattrBomb(string directory, string image, int pairs)
    {
        TestEnv.RequireTool("setfattr");
        string source = Path.Combine(directory, "bomb-src");
        Directory.CreateDirectory(Path.Combine(source, "dir"));
        File.WriteAllText(Path.Combine(source, "bomb"), "bomb\n");
        File.WriteAllText(Path.Combine(source, "plain"), "plain\n");
        File.WriteAllText(Path.Combine(source, "dir", "inner"), "inner\n");
        TestEnv.Run("setfattr", "-n", "user.x", "-v", "1", Path.Combine(source, "bomb")).EnsureSuccess("setfattr");
        SquashFsFile.CreateFromDirectory(source, image, new SquashFsWriterOptions { BlockSize = 4096, Jobs = 1 });
        var bytes = File.ReadAllBytes(image);
        long idTableStart = (long)BinaryPrimitives.ReadUInt64LittleEndian(bytes.AsSpan(56));
        long kvStart = (long)BinaryPrimitives.ReadUInt64LittleEndian(bytes.AsSpan((int)idTableStart));
        if (BinaryPrimitives.ReadUInt32LittleEndian(bytes.AsSpan((int)idTableStart + 8)) != 1)
            throw new InvalidOperationException("the source tree has more than one xattr set");

        // The pairs, as one stream: user.v inline, then references to its size field (block 0, offset 5).
        var pairsStream = new MemoryStream();
        var w = new BinaryWriter(pairsStream);
        for (int i = 0; i < pairs; i++)
        {
            byte[] name = Encoding.ASCII.GetBytes(BombName(i, pairs)["user.".Length..]);
            bool reference = i > 0 && i < pairs - 1;
            w.Write((ushort)(reference ? 0x100 : 0));
            w.Write((ushort)name.Length);
            w.Write(name);
            if (reference)
            {
                w.Write(8u);
                w.Write(5ul);
            }
            else
            {
                byte[] value = i == 0 ? BombValue() : [];
                w.Write((uint)value.Length);
                w.Write(value);
            }
        }
        w.Flush();
        var stream = pairsStream.ToArray();

        var output = new MemoryStream();
        output.Write(bytes, 0, (int)kvStart);
        for (int at = 0; at < stream.Length; at += 8192)
            WriteRawBlock(output, stream.AsSpan(at, Math.Min(8192, stream.Length - at)));
        long idBlock = output.Position;
        var record = new byte[16];
        BinaryPrimitives.WriteUInt64LittleEndian(record, 0); // the set starts at block 0, offset 0
        BinaryPrimitives.WriteUInt32LittleEndian(record.AsSpan(8), (uint)pairs);
        BinaryPrimitives.WriteUInt32LittleEndian(record.AsSpan(12), (uint)stream.Length);
        WriteRawBlock(output, record);
        long header = output.Position;
        var tail = new byte[24];
        BinaryPrimitives.WriteUInt64LittleEndian(tail, (ulong)kvStart);
        BinaryPrimitives.WriteUInt32LittleEndian(tail.AsSpan(8), 1);
        BinaryPrimitives.WriteUInt64LittleEndian(tail.AsSpan(16), (ulong)idBlock);
        output.Write(tail);
        long end = output.Position;
        output.Write(new byte[(4096 - end % 4096) % 4096]);
        var result = output.ToArray();
        BinaryPrimitives.WriteUInt64LittleEndian(result.AsSpan(40), (ulong)end); // bytes_used
        BinaryPrimitives.WriteUInt64LittleEndian(result.AsSpan(56), (ulong)header); // xattr_id_table_start
        File.WriteAllBytes(image, result);
    }

    /// <summary>
    /// An image (uncompressed) of a directory "dir" holding f00..f<paramref name="count"/>-1 and a
    /// subdirectory "sub" with a file, where the inode of <paramref name="bad"/> names uid index 7
    /// though the image stores one id.
    /// </summary>
    public static void BadOwnerEntry(string directory, string image, int count, string bad)
    {
        string source = Path.Combine(directory, "bad-owner-src");
        string dir = Path.Combine(source, "dir");
        Directory.CreateDirectory(Path.Combine(dir, "sub"));
        File.WriteAllText(Path.Combine(dir, "sub", "deep"), "deep\n");
        for (int i = 0; i < count; i++)
            File.WriteAllText(Path.Combine(dir, $"f{i:D2}"), $"file {i}\n");
        // A time no other inode has, to find the bad one's inode by.
        const uint Marker = 0x1234_5678;
        File.SetLastWriteTimeUtc(Path.Combine(dir, bad), DateTime.UnixEpoch.AddSeconds(Marker));
        SquashFsFile.CreateFromDirectory(source, image, new SquashFsWriterOptions
        {
            BlockSize = 4096,
            Jobs = 1,
            Uid = 0,
            Gid = 0,
            Compression = new CompressionOptions { Algorithm = SquashFsCompression.Gzip, Uncompressed = true },
        });
        var bytes = File.ReadAllBytes(image);
        int inodeStart = (int)BinaryPrimitives.ReadUInt64LittleEndian(bytes.AsSpan(64));
        int directoryStart = (int)BinaryPrimitives.ReadUInt64LittleEndian(bytes.AsSpan(72));
        var marker = new byte[4];
        BinaryPrimitives.WriteUInt32LittleEndian(marker, Marker);
        int at = bytes.AsSpan(inodeStart, directoryStart - inodeStart).IndexOf(marker);
        if (at < 0 || bytes.AsSpan(inodeStart + at + 4, directoryStart - inodeStart - at - 4).IndexOf(marker) >= 0)
            throw new InvalidOperationException("the marked inode is not found exactly once");
        // The inode header: type, mode, uid index, gid index, mtime, number.
        BinaryPrimitives.WriteUInt16LittleEndian(bytes.AsSpan(inodeStart + at - 4), 7);
        File.WriteAllBytes(image, bytes);
    }

    private static void WriteRawBlock(Stream output, ReadOnlySpan<byte> payload)
    {
        Span<byte> header = stackalloc byte[2];
        BinaryPrimitives.WriteUInt16LittleEndian(header, (ushort)(payload.Length | 0x8000)); // stored uncompressed
        output.Write(header);
        output.Write(payload);
    }
}
