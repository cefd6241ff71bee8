using System.Buffers.Binary;
using Xar.SquashFs.Compression;
using Xar.SquashFs.Format;
using Xar.Tests;

namespace Xar.SquashFs.Tests;

/// <summary>Whole images from the library: the superblock, the table order the kernel insists on, padding, determinism.</summary>
public class WritingImageTests
{
    private static void MakeTree(string root, bool reverse = false)
    {
        var names = Enumerable.Range(0, 40).Select(i => $"d{i % 4}/f{i:D2}").ToList();
        if (reverse)
            names.Reverse();
        var random = new Random(42);
        var contents = names.Order(StringComparer.Ordinal).ToDictionary(n => n, n =>
        {
            var bytes = new byte[random.Next(0, 300_000)];
            random.NextBytes(bytes.AsSpan(0, bytes.Length / 2)); // half random, half zeros
            return bytes;
        });
        foreach (string n in names)
        {
            Directory.CreateDirectory(Path.Combine(root, Path.GetDirectoryName(n)!));
            File.WriteAllBytes(Path.Combine(root, n), contents[n]);
        }
        File.CreateSymbolicLink(Path.Combine(root, "link"), "d0/f00");
        // every mtime (the symlink's too: -h) pinned, so only the creation order differs
        TestEnv.Run("find", root, "-exec", "touch", "-h", "-d", "@1577836800", "{}", "+").EnsureSuccess("touch");
    }

    private static byte[] Pack(string source, SquashFsWriterOptions options)
    {
        using var dir = new TempDir("img");
        string file = dir["image.sqfs"];
        SquashFsFile.CreateFromDirectory(source, file, options);
        return File.ReadAllBytes(file);
    }

    [Fact]
    public void SuperblockAndTablesFollowTheFormat()
    {
        using var tree = new TempDir("tree");
        MakeTree(tree.Path);
        var image = Pack(tree.Path, new SquashFsWriterOptions
        {
            Compression = new CompressionOptions { Algorithm = SquashFsCompression.Gzip },
            BlockSize = 65536,
            ImageTime = 1234567890,
        });
        Assert.Equal(0, image.Length % 4096);
        var sb = Superblock.Read(image, image.Length);
        Assert.Equal(SquashFsCompression.Gzip, sb.Compression);
        Assert.Equal(65536u, sb.BlockSize);
        Assert.Equal(16, sb.BlockLog);
        Assert.Equal(1234567890u, sb.Mtime);
        Assert.Equal(40u + 4 + 1 + 1, sb.InodeCount); // files, dirs, symlink, root
        Assert.True(sb.BytesUsed <= (ulong)image.Length && sb.BytesUsed > (ulong)image.Length - 4096);
        // the kernel reads the tables in this order and sizes each by the next one's start
        Assert.True(sb.InodeTableStart < sb.DirectoryTableStart);
        Assert.True(sb.DirectoryTableStart < sb.FragmentTableStart);
        Assert.True(sb.FragmentTableStart < sb.ExportTableStart);
        Assert.True(sb.ExportTableStart < sb.IdTableStart);
        Assert.Equal(SquashFsConstants.InvalidTableStart, sb.XattrIdTableStart);
        Assert.True(sb.IdTableStart + 8 * (ulong)((sb.IdCount * 4 + 8191) / 8192) == sb.BytesUsed);
        Assert.True(sb.HasFlag(SuperblockFlags.Exportable));
        Assert.False(sb.HasFlag(SuperblockFlags.CompressorOptions)); // gzip 9 is mksquashfs's default
        Assert.False(sb.HasFlag(SuperblockFlags.UncompressedData));
        Assert.True(sb.FragmentCount > 0);
        // gzip at the default level: no options block, data right after the superblock
        Assert.Equal(1, sb.IdCount);
    }

    [Fact]
    public void NonDefaultSettingsWriteACompressorOptionsBlock()
    {
        using var tree = new TempDir("tree");
        File.WriteAllText(tree["a"], "a");
        var image = Pack(tree.Path, new SquashFsWriterOptions { Compression = new CompressionOptions { Algorithm = SquashFsCompression.Zstd, Level = 3 } });
        var sb = Superblock.Read(image, image.Length);
        Assert.True(sb.HasFlag(SuperblockFlags.CompressorOptions));
        // one uncompressed metadata block right after the superblock: u16 size|0x8000, u32 level
        Assert.Equal(0x8000 | 4, BinaryPrimitives.ReadUInt16LittleEndian(image.AsSpan(96)));
        Assert.Equal(3u, BinaryPrimitives.ReadUInt32LittleEndian(image.AsSpan(98)));
    }

    [Fact]
    public void NoneStoresEverythingUncompressedUnderARealCodecId()
    {
        using var tree = new TempDir("tree");
        File.WriteAllBytes(tree["zeros-and-text"], [.. new byte[5000], .. "hello hello hello hello"u8.ToArray()]);
        var image = Pack(tree.Path, new SquashFsWriterOptions { Compression = new CompressionOptions { Algorithm = SquashFsCompression.Gzip, Uncompressed = true } });
        var sb = Superblock.Read(image, image.Length);
        Assert.Equal(SquashFsCompression.Gzip, sb.Compression);
        foreach (var f in new[] { SuperblockFlags.UncompressedInodes, SuperblockFlags.UncompressedData, SuperblockFlags.UncompressedFragments, SuperblockFlags.UncompressedIds })
            Assert.True(sb.HasFlag(f), f.ToString());
        // the file's bytes appear as they are (a raw fragment block right after the superblock)
        Assert.Equal(new byte[5000], image.AsSpan(96, 5000).ToArray());
        Assert.True(image.AsSpan(96 + 5000).StartsWith("hello hello"u8));
        // every metadata block header has bit 15 set: the inode table's first one
        Assert.NotEqual(0, BinaryPrimitives.ReadUInt16LittleEndian(image.AsSpan((int)sb.InodeTableStart)) & 0x8000);
    }

    [Fact]
    public void OutputDoesNotDependOnCreationOrderOrThreads()
    {
        using var a = new TempDir("tree-a");
        using var b = new TempDir("tree-b");
        MakeTree(a.Path);
        MakeTree(b.Path, reverse: true);
        var options = new SquashFsWriterOptions { ImageTime = 1700000000, Compression = new CompressionOptions { Algorithm = SquashFsCompression.Gzip }, BlockSize = 16384 };
        var one = Pack(a.Path, options with { Jobs = 1 });
        var four = Pack(b.Path, options with { Jobs = 4 });
        Assert.Equal(one.Length, four.Length);
        Assert.True(one.AsSpan().SequenceEqual(four), "images differ");
    }

    [Fact]
    public void FailedPackLeavesNoFileBehind()
    {
        using var dir = new TempDir("fail");
        string dest = dir["out.sqfs"];
        File.WriteAllText(dest, "old");
        Assert.Throws<SourceTreeException>(() => SquashFsFile.CreateFromDirectory(dir["missing"], dest));
        Assert.Equal("old", File.ReadAllText(dest));
        Assert.Equal(new[] { "out.sqfs" }, Directory.GetFiles(dir.Path).Select(Path.GetFileName));
    }

    [Fact]
    public void AFileThatChangesDuringThePackFailsItWithoutOutput()
    {
        using var dir = new TempDir("changing");
        Directory.CreateDirectory(dir["src"]);
        File.WriteAllText(dir["src/a"], "first file");
        File.WriteAllText(dir["src/z"], "last file");
        bool changed = false;
        var options = new SquashFsWriterOptions
        {
            Progress = p =>
            {
                // after the first file, the last one grows before it is read
                if (p.FilesDone == 1 && !changed)
                {
                    changed = true;
                    File.AppendAllText(dir["src/z"], " and more");
                }
            },
        };
        var e = Assert.Throws<SourceTreeException>(() => SquashFsFile.CreateFromDirectory(dir["src"], dir["out.sqfs"], options));
        Assert.Contains("changed", e.Message);
        Assert.EndsWith("/z", e.Path);
        Assert.False(e.IsBadInput);
        Assert.Equal(["src"], Directory.GetFileSystemEntries(dir.Path).Select(Path.GetFileName));
    }

    private sealed class FailingStream(long failAfter) : MemoryStream
    {
        public override void Write(ReadOnlySpan<byte> buffer)
        {
            if (Length + buffer.Length > failAfter)
                throw new IOException("No space left on device");
            base.Write(buffer.ToArray(), 0, buffer.Length);
        }

        public override void Write(byte[] buffer, int offset, int count)
        {
            if (Length + count > failAfter)
                throw new IOException("No space left on device");
            base.Write(buffer, offset, count);
        }
    }

    [Fact]
    public void AWriteFailureStopsEveryThreadAndSurfaces()
    {
        using var tree = new TempDir("tree");
        MakeTree(tree.Path);
        var e = Assert.Throws<IOException>(() => SquashFsFile.CreateFromDirectory(tree.Path, new FailingStream(200_000),
            new SquashFsWriterOptions { Jobs = 2, BlockSize = 4096, Compression = new CompressionOptions { Algorithm = SquashFsCompression.Gzip } }));
        Assert.Equal("No space left on device", e.Message);
    }

    [Fact]
    public void CancellingStopsThePack()
    {
        using var tree = new TempDir("tree");
        MakeTree(tree.Path);
        using var dir = new TempDir("cancel");
        using var cancel = new CancellationTokenSource();
        var options = new SquashFsWriterOptions { Jobs = 2, BlockSize = 4096, Progress = p => { if (p.FilesDone == 5) cancel.Cancel(); } };
        Assert.ThrowsAny<OperationCanceledException>(() => SquashFsFile.CreateFromDirectory(tree.Path, dir["out"], options, cancel.Token));
        Assert.Empty(Directory.GetFileSystemEntries(dir.Path));
    }

    [Fact]
    public void BadOptionsAreRejectedBeforeAnythingIsWritten()
    {
        using var dir = new TempDir("bad");
        Assert.Throws<ArgumentException>(() => SquashFsFile.CreateFromDirectory(dir.Path, dir["x"], new SquashFsWriterOptions { BlockSize = 3000 }));
        Assert.Throws<ArgumentException>(() => SquashFsFile.CreateFromDirectory(dir.Path, dir["x"], new SquashFsWriterOptions { BlockSize = 2 << 20 }));
        Assert.Throws<ArgumentException>(() => SquashFsFile.CreateFromDirectory(dir.Path, dir["x"], new SquashFsWriterOptions { Compression = new CompressionOptions { Level = 99 } }));
        Assert.Empty(Directory.GetFileSystemEntries(dir.Path));
    }
}
