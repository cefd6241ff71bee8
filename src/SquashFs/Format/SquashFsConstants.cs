namespace Xar.SquashFs.Format;

/// <summary>Fixed numbers of the SquashFS 4.0 on-disk format.</summary>
public static class SquashFsConstants
{
    /// <summary>"hsqs" read as a little-endian u32.</summary>
    public const uint Magic = 0x73717368;
    public const ushort VersionMajor = 4;
    public const ushort VersionMinor = 0;
    public const int SuperblockSize = 96;

    /// <summary>Uncompressed payload of one metadata block.</summary>
    public const int MetadataBlockSize = 8192;
    /// <summary>Bit 15 of a metadata block header: the block is stored uncompressed.</summary>
    public const ushort MetadataUncompressedBit = 0x8000;

    /// <summary>Bit 24 of a data block or fragment size: the block is stored uncompressed.</summary>
    public const uint DataBlockUncompressedBit = 1u << 24;

    public const int MinBlockSize = 4096;
    public const int MaxBlockSize = 1 << 20;
    public const int DefaultBlockSize = 128 * 1024;

    /// <summary>"No fragment" / "no xattrs" marker in inodes.</summary>
    public const uint InvalidIndex = 0xFFFFFFFF;
    /// <summary>Marker for an absent table in the superblock (xattr, fragment, export).</summary>
    public const ulong InvalidTableStart = 0xFFFFFFFFFFFFFFFF;

    /// <summary>Images are padded to a multiple of this (as mksquashfs does) so loop devices can map them.</summary>
    public const int DevicePadding = 4096;

    /// <summary>Directory headers cover at most this many entries.</summary>
    public const int MaxEntriesPerDirectoryHeader = 256;
    /// <summary>Longest entry name.</summary>
    public const int MaxNameLength = 256;
    /// <summary>
    /// Deepest directory nesting xar handles (the root is level 0, a directory in it level 1). The
    /// format has no limit; this one is xar's, the same for every command: the writer refuses a deeper
    /// source tree, and every reader (listing, verifying, path lookup, extraction, the launcher's
    /// extraction) reads any image within it, so an image xar writes is readable by all of xar.
    /// Far beyond real trees (at one-byte names a path this deep is 32 KiB, eight times PATH_MAX), it
    /// bounds what a walk holds per level: a stack frame and, for extraction, no descriptor (at most
    /// <c>ExtractionOpenDirectories</c> stay open whatever the depth).
    /// </summary>
    public const int MaxDirectoryDepth = 16384;

    /// <summary>Entries in one fragment/id/export/xattr-id lookup block (8 KiB metadata block).</summary>
    public const int FragmentEntriesPerBlock = MetadataBlockSize / 16;
    public const int IdsPerBlock = MetadataBlockSize / 4;
    public const int ExportEntriesPerBlock = MetadataBlockSize / 8;
    public const int XattrIdsPerBlock = MetadataBlockSize / 16;
}
