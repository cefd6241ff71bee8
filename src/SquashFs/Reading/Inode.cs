using Xar.SquashFs.Format;

namespace Xar.SquashFs.Reading;

/// <summary>
/// One decoded inode, any of the 14 types. Fields that a type does not have keep their defaults
/// (no xattrs = <see cref="SquashFsConstants.InvalidIndex"/>). A file's block list is not read
/// here: <see cref="BlockList"/> says where it is, so listing a directory stays cheap.
/// </summary>
internal sealed class Inode
{
    /// <summary>The fields every inode type starts with.</summary>
    public Inode(in InodeHeader header)
    {
        Type = header.Type;
        Permissions = header.Permissions;
        UidIndex = header.UidIndex;
        GidIndex = header.GidIndex;
        Mtime = header.Mtime;
        InodeNumber = header.InodeNumber;
        Reference = header.Reference;
    }

    public InodeType Type { get; init; }
    public ushort Permissions { get; init; }
    public ushort UidIndex { get; init; }
    public ushort GidIndex { get; init; }
    public uint Mtime { get; init; }
    public uint InodeNumber { get; init; }
    /// <summary>Where the inode was found (its reference in the inode table).</summary>
    public MetadataReference Reference { get; init; }

    public uint Nlink { get; init; } = 1;
    public uint XattrIndex { get; init; } = SquashFsConstants.InvalidIndex;

    // Directories
    public uint DirectoryBlock { get; init; }
    public ushort DirectoryOffset { get; init; }
    /// <summary>Listing size as stored: 3 more than the real listing (the kernel's "." and "..").</summary>
    public uint DirectorySize { get; init; }
    public uint ParentInode { get; init; }
    public ushort DirectoryIndexCount { get; init; }
    /// <summary>Where the directory index of an extended directory starts (right after the inode).</summary>
    public MetadataReference DirectoryIndex { get; init; }

    // Regular files
    public long BlocksStart { get; init; }
    public long FileSize { get; init; }
    public ulong Sparse { get; init; }
    public uint FragmentIndex { get; init; } = SquashFsConstants.InvalidIndex;
    public uint FragmentOffset { get; init; }
    public int BlockCount { get; init; }
    public MetadataReference BlockList { get; init; }

    // Symlinks
    public byte[] SymlinkTarget { get; init; } = [];

    // Devices
    public uint Device { get; init; }

    public bool HasFragment => FragmentIndex != SquashFsConstants.InvalidIndex;

    public bool HasXattrs => XattrIndex != SquashFsConstants.InvalidIndex;

    public InodeType BasicType => Type.ToBasic();

    /// <summary>Linux device number decoding of the 32-bit "new" encoding squashfs stores.</summary>
    public uint DeviceMajor => (Device & 0xFFF00) >> 8;

    public uint DeviceMinor => (Device & 0xFF) | ((Device >> 12) & 0xFFF00);
}

/// <summary>The common head of every inode, as read from the table.</summary>
internal readonly record struct InodeHeader(
    InodeType Type, ushort Permissions, ushort UidIndex, ushort GidIndex, uint Mtime, uint InodeNumber, MetadataReference Reference);
