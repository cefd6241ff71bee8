using System.Buffers.Binary;

namespace Xar.Runtime.Fuse;

/// <summary>FUSE request opcodes (linux/fuse.h, enum fuse_opcode).</summary>
internal enum FuseOpcode : uint
{
    Lookup = 1,
    Forget = 2,
    Getattr = 3,
    Setattr = 4,
    Readlink = 5,
    Symlink = 6,
    Mknod = 8,
    Mkdir = 9,
    Unlink = 10,
    Rmdir = 11,
    Rename = 12,
    Link = 13,
    Open = 14,
    Read = 15,
    Write = 16,
    Statfs = 17,
    Release = 18,
    Fsync = 20,
    Setxattr = 21,
    Getxattr = 22,
    Listxattr = 23,
    Removexattr = 24,
    Flush = 25,
    Init = 26,
    Opendir = 27,
    Readdir = 28,
    Releasedir = 29,
    Fsyncdir = 30,
    Getlk = 31,
    Setlk = 32,
    Setlkw = 33,
    Access = 34,
    Create = 35,
    Interrupt = 36,
    Bmap = 37,
    Destroy = 38,
    Ioctl = 39,
    Poll = 40,
    NotifyReply = 41,
    BatchForget = 42,
    Fallocate = 43,
    Readdirplus = 44,
    Rename2 = 45,
    Lseek = 46,
    CopyFileRange = 47,
    Setupmapping = 48,
    Removemapping = 49,
    Syncfs = 50,
    Tmpfile = 51,
}

/// <summary>
/// The kernel's FUSE protocol, version 7 (linux/fuse.h): constants, struct sizes and offsets. Every
/// struct is little-endian, 64-bit aligned and read or written field by field with BinaryPrimitives.
/// </summary>
internal static class FuseProtocol
{
    public const uint KernelVersion = 7;
    /// <summary>The minor version we speak: every struct at its full size (7.23+), flags2 (7.36+).</summary>
    public const uint KernelMinorVersion = 38;
    /// <summary>Oldest kernel minor we serve: fuse_attr with blksize and entry/attr outs at full size.</summary>
    public const uint OldestKernelMinorVersion = 12;
    public const ulong RootId = 1;

    public const int InHeaderSize = 40;
    public const int OutHeaderSize = 16;
    public const int AttrSize = 88;
    public const int EntryOutSize = 40 + AttrSize;
    public const int AttrOutSize = 16 + AttrSize;
    public const int OpenOutSize = 16;
    public const int StatfsOutSize = 80;
    public const int InitOutSize = 64;
    public const int GetxattrOutSize = 8;
    public const int DirentHeaderSize = 24;
    public const int DirentPlusHeaderSize = EntryOutSize + DirentHeaderSize;
    public const int ForgetOneSize = 16;
    /// <summary>The kernel refuses a read buffer smaller than this (FUSE_MIN_READ_BUFFER).</summary>
    public const int MinReadBuffer = 8192;

    // fuse_init_in/out flags (the first 32 bits; flags2 holds bits 32..63).
    public const uint AsyncRead = 1 << 0;
    public const uint BigWrites = 1 << 5;
    public const uint DoReaddirplus = 1 << 13;
    /// <summary>Offered by the kernel: an OPEN answered ENOSYS makes every later open take no request at all.</summary>
    public const uint NoOpenSupport = 1 << 17;
    public const uint ReaddirplusAuto = 1 << 14;
    public const uint ParallelDirops = 1 << 18;
    public const uint MaxPages = 1 << 22;
    public const uint CacheSymlinks = 1 << 23;
    /// <summary>As <see cref="NoOpenSupport"/>, for OPENDIR.</summary>
    public const uint NoOpendirSupport = 1 << 24;

    // fuse_open_out.open_flags
    public const uint FopenKeepCache = 1 << 1;
    public const uint FopenCacheDir = 1 << 3;

    /// <summary>fuse_in_header.unique bit that marks the reply to an INTERRUPT.</summary>
    public const ulong InterruptBit = 1UL << 63;

    /// <summary>Pads a directory record to the 8-byte alignment (FUSE_DIRENT_ALIGN).</summary>
    public static int Align8(int length) => (length + 7) & ~7;

    /// <summary>True for requests the kernel expects no reply to.</summary>
    public static bool HasNoReply(FuseOpcode opcode) =>
        opcode is FuseOpcode.Forget or FuseOpcode.BatchForget or FuseOpcode.Interrupt or FuseOpcode.NotifyReply;

    /// <summary>True for requests that would change the file system: a read-only image answers EROFS.</summary>
    public static bool Writes(FuseOpcode opcode) => opcode is FuseOpcode.Setattr or FuseOpcode.Symlink or FuseOpcode.Mknod
        or FuseOpcode.Mkdir or FuseOpcode.Unlink or FuseOpcode.Rmdir or FuseOpcode.Rename or FuseOpcode.Link
        or FuseOpcode.Write or FuseOpcode.Setxattr or FuseOpcode.Removexattr or FuseOpcode.Create or FuseOpcode.Fallocate
        or FuseOpcode.Rename2 or FuseOpcode.CopyFileRange or FuseOpcode.Tmpfile;
}

/// <summary>struct fuse_in_header (40 bytes), in front of every request.</summary>
internal readonly struct FuseInHeader
{
    public FuseInHeader(ReadOnlySpan<byte> b)
    {
        Length = BinaryPrimitives.ReadUInt32LittleEndian(b);
        Opcode = (FuseOpcode)BinaryPrimitives.ReadUInt32LittleEndian(b[4..]);
        Unique = BinaryPrimitives.ReadUInt64LittleEndian(b[8..]);
        NodeId = BinaryPrimitives.ReadUInt64LittleEndian(b[16..]);
        Uid = BinaryPrimitives.ReadUInt32LittleEndian(b[24..]);
        Gid = BinaryPrimitives.ReadUInt32LittleEndian(b[28..]);
        Pid = BinaryPrimitives.ReadUInt32LittleEndian(b[32..]);
        ExtensionLength = BinaryPrimitives.ReadUInt16LittleEndian(b[36..]) * 8;
    }

    public uint Length { get; }
    public FuseOpcode Opcode { get; }
    public ulong Unique { get; }
    public ulong NodeId { get; }
    public uint Uid { get; }
    public uint Gid { get; }
    public uint Pid { get; }
    /// <summary>Bytes of request extensions at the end of the request (total_extlen, 7.37+).</summary>
    public int ExtensionLength { get; }
}

/// <summary>The fields of struct fuse_attr (88 bytes) that an image inode has.</summary>
internal struct FuseAttributes
{
    public ulong Ino;
    public ulong Size;
    public ulong Blocks;
    /// <summary>atime, mtime and ctime alike, as the kernel's squashfs sets them.</summary>
    public ulong Time;
    public uint Mode;
    public uint Nlink;
    public uint Uid;
    public uint Gid;
    /// <summary>The device number in the kernel's new_encode_dev form (as squashfs stores it).</summary>
    public uint Rdev;
    public uint BlockSize;

    public readonly void WriteTo(Span<byte> d)
    {
        BinaryPrimitives.WriteUInt64LittleEndian(d, Ino);
        BinaryPrimitives.WriteUInt64LittleEndian(d[8..], Size);
        BinaryPrimitives.WriteUInt64LittleEndian(d[16..], Blocks);
        BinaryPrimitives.WriteUInt64LittleEndian(d[24..], Time);
        BinaryPrimitives.WriteUInt64LittleEndian(d[32..], Time);
        BinaryPrimitives.WriteUInt64LittleEndian(d[40..], Time);
        d.Slice(48, 12).Clear(); // atime/mtime/ctime nanoseconds
        BinaryPrimitives.WriteUInt32LittleEndian(d[60..], Mode);
        BinaryPrimitives.WriteUInt32LittleEndian(d[64..], Nlink);
        BinaryPrimitives.WriteUInt32LittleEndian(d[68..], Uid);
        BinaryPrimitives.WriteUInt32LittleEndian(d[72..], Gid);
        BinaryPrimitives.WriteUInt32LittleEndian(d[76..], Rdev);
        BinaryPrimitives.WriteUInt32LittleEndian(d[80..], BlockSize);
        BinaryPrimitives.WriteUInt32LittleEndian(d[84..], 0); // flags
    }
}

/// <summary>Writers of the reply structs (after the out header).</summary>
internal static class FuseWire
{
    /// <summary>
    /// Cache lifetime of names and attributes: the image never changes, so as long as the kernel
    /// allows (it clamps larger values to its own maximum).
    /// </summary>
    public const ulong Forever = uint.MaxValue;

    /// <summary>struct fuse_entry_out (128 bytes).</summary>
    public static void WriteEntryOut(Span<byte> d, ulong nodeId, in FuseAttributes attributes)
    {
        BinaryPrimitives.WriteUInt64LittleEndian(d, nodeId);
        BinaryPrimitives.WriteUInt64LittleEndian(d[8..], 0); // generation: a node id always means the same inode
        BinaryPrimitives.WriteUInt64LittleEndian(d[16..], Forever);
        BinaryPrimitives.WriteUInt64LittleEndian(d[24..], Forever);
        BinaryPrimitives.WriteUInt64LittleEndian(d[32..], 0); // both nanosecond fields
        attributes.WriteTo(d[40..]);
    }

    /// <summary>struct fuse_attr_out (104 bytes).</summary>
    public static void WriteAttrOut(Span<byte> d, in FuseAttributes attributes)
    {
        BinaryPrimitives.WriteUInt64LittleEndian(d, Forever);
        BinaryPrimitives.WriteUInt64LittleEndian(d[8..], 0); // attr_valid_nsec, dummy
        attributes.WriteTo(d[16..]);
    }

    /// <summary>struct fuse_open_out (16 bytes).</summary>
    public static void WriteOpenOut(Span<byte> d, ulong fileHandle, uint openFlags)
    {
        BinaryPrimitives.WriteUInt64LittleEndian(d, fileHandle);
        BinaryPrimitives.WriteUInt32LittleEndian(d[8..], openFlags);
        BinaryPrimitives.WriteUInt32LittleEndian(d[12..], 0);
    }

    /// <summary>struct fuse_getxattr_out (8 bytes): the size a getxattr or listxattr would need.</summary>
    public static void WriteGetxattrOut(Span<byte> d, uint size)
    {
        BinaryPrimitives.WriteUInt32LittleEndian(d, size);
        BinaryPrimitives.WriteUInt32LittleEndian(d[4..], 0);
    }

    /// <summary>
    /// struct fuse_dirent: inode number, the offset of the next entry, name length, type (DT_*),
    /// the name, zero padding to 8 bytes. Returns the bytes written.
    /// </summary>
    public static int WriteDirent(Span<byte> d, ulong ino, ulong nextOffset, uint type, ReadOnlySpan<byte> name)
    {
        int size = FuseProtocol.Align8(FuseProtocol.DirentHeaderSize + name.Length);
        BinaryPrimitives.WriteUInt64LittleEndian(d, ino);
        BinaryPrimitives.WriteUInt64LittleEndian(d[8..], nextOffset);
        BinaryPrimitives.WriteUInt32LittleEndian(d[16..], (uint)name.Length);
        BinaryPrimitives.WriteUInt32LittleEndian(d[20..], type);
        name.CopyTo(d[FuseProtocol.DirentHeaderSize..]);
        d[(FuseProtocol.DirentHeaderSize + name.Length)..size].Clear();
        return size;
    }
}
