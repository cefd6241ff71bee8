using System.Buffers.Binary;
using Xar.SquashFs;
using Xar.SquashFs.Format;
using Xar.SquashFs.Reading;
using static Xar.Posix.LibC;

namespace Xar.Runtime.Fuse;

/// <summary>
/// The image as the FUSE server serves it: inodes and their attributes exactly as the kernel's
/// squashfs driver reports them, directory walks, xattrs (walked, never materialised), statfs, and file reads through a bounded
/// cache of decompressed blocks. Thread-safe; reads allocate nothing.
/// </summary>
internal sealed unsafe class ImageFileSystem : IDisposable
{
    /// <summary>st_blksize of every squashfs inode: the kernel driver's device block size (SQUASHFS_DEVBLK_SIZE).</summary>
    private const uint KernelBlockSize = 1024;

    private readonly SquashFsImage _image;
    private readonly BlockCache _cache;

    public ImageFileSystem(SquashFsImage image, long cacheBytes)
    {
        _image = image;
        var sb = image.Superblock;
        BlockSize = (int)sb.BlockSize;
        _cache = new BlockCache(BlockSize, cacheBytes);
        RootReference = MetadataReference.FromPacked(sb.RootInodeReference);
        InodeTableStart = (long)sb.InodeTableStart;
        InodeTableSize = (long)sb.DirectoryTableStart - InodeTableStart;
        DirectoryTableStart = (long)sb.DirectoryTableStart;
        DirectoryTableEnd = image.DirectoryTableEnd;
        InodeCount = sb.InodeCount;
    }

    public SquashFsImage Image => _image;

    public int BlockSize { get; }

    public MetadataReference RootReference { get; }

    internal MetadataReader Metadata => _image.Metadata;

    internal long InodeTableStart { get; }

    internal long InodeTableSize { get; }

    internal long DirectoryTableStart { get; }

    internal long DirectoryTableEnd { get; }

    internal uint InodeCount { get; }

    internal BlockCache Cache => _cache;

    /// <summary>Whether the image has an xattr table at all (mksquashfs -no-xattrs leaves it out).</summary>
    public bool HasXattrTable => _image.Xattrs is not null;

    public Inode ReadInode(MetadataReference reference) => _image.Inodes.Read(reference);

    /// <summary>
    /// Reads the inode a directory entry names and checks that it is of the entry's type (a
    /// mismatch is corruption, as <see cref="SquashFsImage"/> treats it).
    /// </summary>
    public Inode ReadEntryInode(MetadataReference reference, InodeType entryType)
    {
        var inode = _image.Inodes.Read(reference);
        if (inode.BasicType != entryType)
            throw new SquashFsCorruptException($"a directory entry says {entryType} but its inode {reference} is a {inode.Type}");
        return inode;
    }

    /// <summary>Mode, size, blocks, links, owners, time and device as the kernel's squashfs sets them (fs/squashfs/inode.c).</summary>
    public void GetAttributes(Inode inode, out FuseAttributes a)
    {
        a = default;
        a.Ino = inode.InodeNumber;
        a.Mode = inode.Type.ToFileTypeBits() | inode.Permissions;
        a.Nlink = inode.Nlink;
        a.Uid = _image.Ids[inode.UidIndex, "uid"];
        a.Gid = _image.Ids[inode.GidIndex, "gid"];
        a.Time = inode.Mtime;
        a.BlockSize = KernelBlockSize;
        long blocks = 0;
        switch (inode.Type)
        {
            case InodeType.File:
                a.Size = (ulong)inode.FileSize;
                blocks = ((inode.FileSize - 1) >> 9) + 1;
                break;
            case InodeType.ExtendedFile:
                a.Size = (ulong)inode.FileSize;
                blocks = (inode.FileSize - (long)inode.Sparse + 511) >> 9;
                break;
            case InodeType.Directory or InodeType.ExtendedDirectory:
                a.Size = inode.DirectorySize;
                break;
            case InodeType.Symlink or InodeType.ExtendedSymlink:
                a.Size = (ulong)inode.SymlinkTarget.Length;
                break;
            case InodeType.BlockDevice or InodeType.CharDevice or InodeType.ExtendedBlockDevice or InodeType.ExtendedCharDevice:
                a.Rdev = inode.Device; // squashfs stores new_encode_dev's form, which is also FUSE's
                break;
        }
        if (inode.HasXattrs && _image.Xattrs is { } xattrs)
        {
            Span<byte> record = stackalloc byte[16];
            xattrs.IdTable.Read(inode.XattrIndex, record);
            uint size = BinaryPrimitives.ReadUInt32LittleEndian(record[12..]);
            blocks += ((size - 1) >> 9) + 1; // unsigned, as the kernel computes it
        }
        a.Blocks = (ulong)blocks;
    }

    /// <summary>
    /// Looks up one xattr of <paramref name="inode"/> by its full name, as the kernel's squashfs does:
    /// walking the pairs by name and reading only that value. Returns -1 when there is none of that
    /// name, else the value's size; the value is copied into <paramref name="destination"/> only when
    /// it fits (an empty destination asks only the size). Nothing is kept per pair.
    /// </summary>
    public int GetXattr(Inode inode, ReadOnlySpan<byte> name, Span<byte> destination)
    {
        if (!inode.HasXattrs)
            return -1;
        Span<byte> buffer = stackalloc byte[XattrReader.MaxNameLength];
        var walker = XattrTable(inode).Walk(inode.XattrIndex, buffer);
        while (walker.MoveNext())
        {
            if (!walker.Name.SequenceEqual(name))
                continue;
            int size = walker.ValueSize();
            if (size <= destination.Length)
                walker.ReadValue(destination);
            return size;
        }
        return -1;
    }

    /// <summary>
    /// Writes the names of <paramref name="inode"/>'s xattrs (with their prefix, each followed by a
    /// NUL) into <paramref name="destination"/> and returns the list's length; values are never read.
    /// An empty destination asks only the length. When the list outgrows a non-empty destination the
    /// walk stops: the result then only says it is longer.
    /// </summary>
    public int ListXattrs(Inode inode, bool includeTrusted, Span<byte> destination)
    {
        if (!inode.HasXattrs)
            return 0;
        Span<byte> buffer = stackalloc byte[XattrReader.MaxNameLength];
        var walker = XattrTable(inode).Walk(inode.XattrIndex, buffer);
        int total = 0;
        while (walker.MoveNext())
        {
            var name = walker.Name;
            if (!includeTrusted && name.StartsWith("trusted."u8))
                continue;
            int end = total + name.Length + 1;
            if (end <= destination.Length)
            {
                name.CopyTo(destination[total..]);
                destination[end - 1] = 0;
            }
            else if (!destination.IsEmpty)
            {
                return end;
            }
            total = end;
        }
        return total;
    }

    private XattrReader XattrTable(Inode inode) => _image.Xattrs
        ?? throw new SquashFsCorruptException($"inode {inode.InodeNumber}: has an xattr index but the image has no xattr table");

    /// <summary>struct fuse_kstatfs (80 bytes) as the kernel's squashfs_statfs fills struct kstatfs.</summary>
    public void WriteStatfs(Span<byte> d)
    {
        var sb = _image.Superblock;
        d[..FuseProtocol.StatfsOutSize].Clear();
        BinaryPrimitives.WriteUInt64LittleEndian(d, ((sb.BytesUsed - 1) >> sb.BlockLog) + 1); // blocks
        BinaryPrimitives.WriteUInt64LittleEndian(d[24..], sb.InodeCount); // files; bfree, bavail, ffree stay 0
        BinaryPrimitives.WriteUInt32LittleEndian(d[40..], sb.BlockSize); // bsize
        BinaryPrimitives.WriteUInt32LittleEndian(d[44..], SquashFsConstants.MaxNameLength); // namelen
        BinaryPrimitives.WriteUInt32LittleEndian(d[48..], sb.BlockSize); // frsize
    }

    /// <summary>Where a regular file's blocks are, for reads through one open handle.</summary>
    public OpenFile Open(Inode inode) => new(inode, _image.Inodes.ReadBlockSizes(inode));

    /// <summary>
    /// Reads up to <paramref name="size"/> bytes at <paramref name="offset"/> into <paramref name="destination"/>
    /// and returns how many (fewer only at the end of the file). <paramref name="scratch"/> is a
    /// block-sized buffer of the caller's, used when every cache slot is busy.
    /// A whole block is decoded straight into the destination (the kernel's page cache keeps it);
    /// a part of one, and every fragment, goes through the block cache.
    /// </summary>
    /// <exception cref="SquashFsCorruptException">A block is corrupt.</exception>
    public int Read(OpenFile file, long offset, int size, byte* destination, byte* scratch)
    {
        long length = file.Inode.FileSize;
        if (offset >= length || size <= 0)
            return 0;
        long end = Math.Min(length, offset + size);
        long position = offset;
        byte* d = destination;
        var data = _image.Data;
        long bs = BlockSize;
        while (position < end)
        {
            long index = position / bs;
            int n;
            if (index < file.BlockCount)
            {
                int i = (int)index;
                long blockStart = index * bs;
                int blockLength = (int)Math.Min(bs, length - blockStart);
                int inBlock = (int)(position - blockStart);
                n = (int)Math.Min(blockLength - inBlock, end - position);
                uint word = file.Words[i];
                long at = file.BlockPosition(i);
                var what = new Subject("inode {0} block {1}", file.Inode.InodeNumber, (ulong)i);
                if ((word & 0x00FFFFFF) == 0)
                {
                    data.CheckSizeWord(word, what);
                    new Span<byte>(d, n).Clear(); // a hole
                }
                else if (inBlock == 0 && n == blockLength)
                {
                    data.ReadBlock(at, word, new Span<byte>(d, blockLength), blockLength, what);
                }
                else
                {
                    var decoder = new DataBlockDecoder(data, at, word, blockLength, what);
                    int slot = _cache.Acquire(at, ref decoder, scratch, out byte* block, out int decoded);
                    try
                    {
                        if (decoded != blockLength)
                            throw new SquashFsCorruptException($"{what}: block decoded to {decoded} bytes, expected {blockLength}");
                        Buffer.MemoryCopy(block + inBlock, d, n, n);
                    }
                    finally
                    {
                        _cache.Release(slot);
                    }
                }
            }
            else
            {
                var inode = file.Inode;
                if (!inode.HasFragment)
                    throw new SquashFsCorruptException($"inode {inode.InodeNumber}: {length} bytes but only {file.BlockCount} blocks and no fragment");
                long tailStart = (long)file.BlockCount * bs;
                int tailLength = (int)(length - tailStart);
                int inTail = (int)(position - tailStart);
                n = (int)(end - position);
                var what = new Subject("inode {0} tail", inode.InodeNumber);
                int slot = AcquireFragment(inode.FragmentIndex, scratch, out byte* block, out int decoded);
                try
                {
                    if (inode.FragmentOffset > decoded || tailLength > decoded - inode.FragmentOffset)
                        throw new SquashFsCorruptException($"{what}: {tailLength} bytes at offset {inode.FragmentOffset} lie past the end of fragment block {inode.FragmentIndex} ({decoded} bytes)");
                    Buffer.MemoryCopy(block + inode.FragmentOffset + inTail, d, n, n);
                }
                finally
                {
                    _cache.Release(slot);
                }
            }
            d += n;
            position += n;
        }
        return (int)(end - offset);
    }

    /// <summary>
    /// Fragment block <paramref name="index"/>, decoded, from the cache (pinned until
    /// <see cref="ReleaseBlock"/> with the returned slot) or into <paramref name="scratch"/>.
    /// </summary>
    public int AcquireFragment(uint index, byte* scratch, out byte* block, out int length)
    {
        var decoder = new FragmentDecoder(_image.Data, index, new Subject("fragment block {0}", index));
        return _cache.Acquire(-1 - (long)index, ref decoder, scratch, out block, out length);
    }

    public void ReleaseBlock(int slot) => _cache.Release(slot);

    public void Dispose()
    {
        _cache.Dispose();
        _image.Dispose();
    }

    private readonly struct DataBlockDecoder(DataBlockReader data, long position, uint word, int expected, Subject what) : BlockCache.IBlockDecoder
    {
        public int Decode(long key, Span<byte> destination)
        {
            data.ReadBlock(position, word, destination, expected, what);
            return expected;
        }
    }

    private readonly struct FragmentDecoder(DataBlockReader data, uint index, Subject what) : BlockCache.IBlockDecoder
    {
        public int Decode(long key, Span<byte> destination) => data.DecodeFragment(index, destination, what);
    }
}

/// <summary>
/// A regular file opened through FUSE: its inode and block size words, and the position of every
/// 64th block, so any block's position is a short sum away (4 bytes per block, whatever the file size).
/// </summary>
internal sealed class OpenFile
{
    private const int CheckpointShift = 6;
    private readonly long[] _checkpoints;

    public OpenFile(Inode inode, uint[] words)
    {
        Inode = inode;
        Words = words;
        _checkpoints = new long[(words.Length >> CheckpointShift) + 1];
        long p = inode.BlocksStart;
        for (int i = 0; i < words.Length; i++)
        {
            if ((i & ((1 << CheckpointShift) - 1)) == 0)
                _checkpoints[i >> CheckpointShift] = p;
            p += words[i] & 0x00FFFFFF;
        }
    }

    public Inode Inode { get; }

    public uint[] Words { get; }

    public int BlockCount => Words.Length;

    /// <summary>Where block <paramref name="index"/> starts in the image (checked when it is read).</summary>
    public long BlockPosition(int index)
    {
        long p = _checkpoints[index >> CheckpointShift];
        for (int i = index & ~((1 << CheckpointShift) - 1); i < index; i++)
            p += Words[i] & 0x00FFFFFF;
        return p;
    }
}
