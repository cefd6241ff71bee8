using Xar.SquashFs.Format;

namespace Xar.SquashFs.Reading;

/// <summary>Decodes inodes from the inode table, checking every field against the superblock.</summary>
internal sealed class InodeReader
{
    /// <summary>Linux refuses longer symlink targets (PATH_MAX includes the NUL).</summary>
    public const int MaxSymlinkTarget = 4095;

    private readonly MetadataReader _reader;
    private readonly Superblock _sb;
    private readonly long _tableStart;
    private readonly long _tableEnd;
    private readonly long _maxPayload;

    public InodeReader(MetadataReader reader, Superblock sb, long tableEnd)
    {
        _reader = reader;
        _sb = sb;
        _tableStart = (long)sb.InodeTableStart;
        _tableEnd = tableEnd;
        // Upper bound of the decoded table: every block takes at least 3 bytes on disk and gives at
        // most 8 KiB. Bounds block lists before anything is allocated for them.
        _maxPayload = ((_tableEnd - _tableStart) / 3 + 1) * SquashFsConstants.MetadataBlockSize;
    }

    public long TableStart => _tableStart;

    public long TableEnd => _tableEnd;

    public MetadataCursor Open(MetadataReference reference, Subject what) =>
        new(_reader, _tableStart, _tableEnd, reference.Block, reference.Offset, what);

    public Inode Read(MetadataReference reference)
    {
        var what = new Subject("inode {0}:{1}", reference.Block, reference.Offset);
        var c = Open(reference, what);
        var type = (InodeType)c.ReadUInt16();
        if (!type.IsValid())
            throw new SquashFsCorruptException($"{what}: unknown inode type {(ushort)type}");
        // Some writers (gensquashfs) keep the S_IFMT bits here; the type field alone decides the type.
        ushort mode = (ushort)(c.ReadUInt16() & 0xFFF);
        ushort uid = c.ReadUInt16();
        ushort gid = c.ReadUInt16();
        uint mtime = c.ReadUInt32();
        uint number = c.ReadUInt32();
        if (number == 0 || number > _sb.InodeCount)
            throw new SquashFsCorruptException($"{what}: inode number {number} is out of range (1..{_sb.InodeCount})");
        if (uid >= _sb.IdCount || gid >= _sb.IdCount)
            throw new SquashFsCorruptException($"{what}: uid/gid index {uid}/{gid} is out of range (id table has {_sb.IdCount} entries)");
        var header = new InodeHeader(type, mode, uid, gid, mtime, number, reference);
        switch (type)
        {
            case InodeType.Directory:
            {
                uint block = c.ReadUInt32();
                uint nlink = c.ReadUInt32();
                ushort size = c.ReadUInt16();
                ushort offset = c.ReadUInt16();
                uint parent = c.ReadUInt32();
                return CheckDirectory(new Inode(header)
                {
                    DirectoryBlock = block, Nlink = nlink, DirectorySize = size, DirectoryOffset = offset, ParentInode = parent,
                }, what);
            }
            case InodeType.ExtendedDirectory:
            {
                uint nlink = c.ReadUInt32();
                uint size = c.ReadUInt32();
                uint block = c.ReadUInt32();
                uint parent = c.ReadUInt32();
                ushort indexCount = c.ReadUInt16();
                ushort offset = c.ReadUInt16();
                uint xattr = c.ReadUInt32();
                return CheckDirectory(new Inode(header)
                {
                    Nlink = nlink, DirectorySize = size, DirectoryBlock = block, ParentInode = parent, DirectoryIndexCount = indexCount,
                    DirectoryOffset = offset, XattrIndex = xattr, DirectoryIndex = c.Position,
                }, what);
            }
            case InodeType.File:
            {
                uint start = c.ReadUInt32();
                uint frag = c.ReadUInt32();
                uint fragOffset = c.ReadUInt32();
                uint size = c.ReadUInt32();
                return CheckFile(new Inode(header)
                {
                    BlocksStart = start, FragmentIndex = frag, FragmentOffset = fragOffset, FileSize = size,
                    BlockCount = BlockCount(size, frag, what), BlockList = c.Position,
                }, what);
            }
            case InodeType.ExtendedFile:
            {
                ulong start = c.ReadUInt64();
                ulong size = c.ReadUInt64();
                ulong sparse = c.ReadUInt64();
                uint nlink = c.ReadUInt32();
                uint frag = c.ReadUInt32();
                uint fragOffset = c.ReadUInt32();
                uint xattr = c.ReadUInt32();
                if (start > (ulong)_sb.BytesUsed || size > long.MaxValue / 2)
                    throw new SquashFsCorruptException($"{what}: file start {start} or size {size} is out of range");
                return CheckFile(new Inode(header)
                {
                    BlocksStart = (long)start, FileSize = (long)size, Sparse = sparse, Nlink = nlink, FragmentIndex = frag,
                    FragmentOffset = fragOffset, XattrIndex = xattr, BlockCount = BlockCount((long)size, frag, what), BlockList = c.Position,
                }, what);
            }
            case InodeType.Symlink:
            case InodeType.ExtendedSymlink:
            {
                uint nlink = c.ReadUInt32();
                uint length = c.ReadUInt32();
                if (length == 0 || length > MaxSymlinkTarget)
                    throw new SquashFsCorruptException($"{what}: symlink target length {length} is out of range (1..{MaxSymlinkTarget})");
                var target = new byte[length];
                c.Read(target);
                if (target.AsSpan().Contains((byte)0))
                    throw new SquashFsCorruptException($"{what}: symlink target contains a NUL byte");
                uint xattr = type == InodeType.ExtendedSymlink ? c.ReadUInt32() : SquashFsConstants.InvalidIndex;
                return Check(new Inode(header)
                {
                    Nlink = nlink, SymlinkTarget = target, XattrIndex = xattr,
                }, what);
            }
            case InodeType.BlockDevice:
            case InodeType.CharDevice:
            case InodeType.ExtendedBlockDevice:
            case InodeType.ExtendedCharDevice:
            {
                uint nlink = c.ReadUInt32();
                uint dev = c.ReadUInt32();
                uint xattr = type.IsExtended() ? c.ReadUInt32() : SquashFsConstants.InvalidIndex;
                return Check(new Inode(header)
                {
                    Nlink = nlink, Device = dev, XattrIndex = xattr,
                }, what);
            }
            default: // fifo, socket
            {
                uint nlink = c.ReadUInt32();
                uint xattr = type.IsExtended() ? c.ReadUInt32() : SquashFsConstants.InvalidIndex;
                return Check(new Inode(header)
                {
                    Nlink = nlink, XattrIndex = xattr,
                }, what);
            }
        }
    }

    /// <summary>Reads a file's list of block size words.</summary>
    public uint[] ReadBlockSizes(Inode inode)
    {
        if (inode.BlockCount == 0)
            return [];
        var what = new Subject("inode {0}:{1} block list", inode.Reference.Block, inode.Reference.Offset);
        var c = Open(inode.BlockList, what);
        var sizes = new uint[inode.BlockCount];
        var bytes = System.Runtime.InteropServices.MemoryMarshal.AsBytes(sizes.AsSpan());
        c.Read(bytes);
        if (!BitConverter.IsLittleEndian)
            System.Buffers.Binary.BinaryPrimitives.ReverseEndianness(sizes, sizes);
        return sizes;
    }

    private int BlockCount(long size, uint fragment, Subject what)
    {
        long bs = _sb.BlockSize;
        long count = fragment == SquashFsConstants.InvalidIndex ? (size + bs - 1) / bs : size / bs;
        // Every block needs a 4-byte size word in the inode table: bounds absurd sizes before allocation.
        if (count * 4 > _maxPayload || count > int.MaxValue / 4)
            throw new SquashFsCorruptException($"{what}: file size {size} needs {count} blocks, more than the inode table can describe");
        return (int)count;
    }

    private Inode CheckFile(Inode inode, Subject what)
    {
        if (inode.HasFragment)
        {
            if (inode.FragmentIndex >= _sb.FragmentCount)
                throw new SquashFsCorruptException($"{what}: fragment index {inode.FragmentIndex} is out of range ({_sb.FragmentCount} fragments)");
            long tail = inode.FileSize % _sb.BlockSize;
            if (tail == 0 || inode.FragmentOffset > _sb.BlockSize - tail)
                throw new SquashFsCorruptException($"{what}: fragment tail of {tail} bytes at offset {inode.FragmentOffset} does not fit in a block");
        }
        return Check(inode, what);
    }

    private Inode CheckDirectory(Inode inode, Subject what)
    {
        if (inode.DirectoryOffset >= SquashFsConstants.MetadataBlockSize)
            throw new SquashFsCorruptException($"{what}: directory offset {inode.DirectoryOffset} is past a metadata block");
        return Check(inode, what);
    }

    private Inode Check(Inode inode, Subject what)
    {
        if (inode.HasXattrs && _sb.XattrIdTableStart == SquashFsConstants.InvalidTableStart)
            throw new SquashFsCorruptException($"{what}: xattr index {inode.XattrIndex} but the image has no xattr table");
        return inode;
    }
}
