using Xar.SquashFs.Format;

namespace Xar.SquashFs.Writing;

/// <summary>Everything the image stores of one inode, gathered by the scanner.</summary>
internal sealed class SourceInode
{
    public InodeType Type { get; init; }

    /// <summary>Permission bits incl. setuid/setgid/sticky (mode &amp; 07777).</summary>
    public ushort Permissions { get; init; }

    public ushort UidIndex { get; set; }

    public ushort GidIndex { get; set; }

    public uint Mtime { get; init; }

    /// <summary>Names of this inode inside the image (not st_nlink: links outside the tree do not count).</summary>
    public uint Nlink { get; set; } = 1;

    public ulong Size { get; init; }

    /// <summary>Symlink target bytes.</summary>
    public byte[]? SymlinkTarget { get; init; }

    /// <summary>Device number as the kernel's new_encode_dev.</summary>
    public uint DeviceNumber { get; init; }

    /// <summary>Index into the xattr id table, or <see cref="SquashFsConstants.InvalidIndex"/>.</summary>
    public uint XattrIndex { get; set; } = SquashFsConstants.InvalidIndex;

    /// <summary>Regular files: NUL-terminated source path (null for in-memory extra files).</summary>
    public byte[]? SourcePath { get; init; }

    /// <summary>Regular files: size and mtime when scanned, to notice a file that changes before or while it is read.</summary>
    public ulong SourceSize { get; init; }

    public long SourceMtimeNanoseconds { get; init; }

    /// <summary>Regular files: inode and device when scanned, to notice a file replaced by another (a FIFO even) before it is read.</summary>
    public ulong SourceIno { get; init; }

    public uint SourceDevMajor { get; init; }

    public uint SourceDevMinor { get; init; }

    /// <summary>Regular files given in memory instead of a path.</summary>
    public byte[]? Content { get; init; }

    /// <summary>Regular files: where the data went (shared by files with equal content).</summary>
    public FileData? Data { get; set; }

    /// <summary>Data-order priority (mksquashfs sort file); higher first.</summary>
    public int Priority { get; set; }

    public SourceDirectory? Directory { get; init; }

    /// <summary>Inode number, 1..count, assigned before the inode table is written.</summary>
    public uint Number { get; set; }

    /// <summary>Inode-table-relative reference, known once the inode is written.</summary>
    public MetadataReference Reference { get; set; }

    public bool Written { get; set; }

    /// <summary>Directories: inode number of the parent directory.</summary>
    public uint ParentNumber { get; set; }

    /// <summary>Directories: number of subdirectories (for the link count).</summary>
    public uint SubdirectoryCount { get; set; }
}
