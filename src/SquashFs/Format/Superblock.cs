using System.Buffers.Binary;

namespace Xar.SquashFs.Format;

/// <summary>The 96-byte SquashFS 4.0 superblock at the start of an image (little-endian).</summary>
public sealed record class Superblock
{
    public uint InodeCount { get; set; }
    /// <summary>Image creation time, seconds since the epoch (unsigned 32-bit).</summary>
    public uint Mtime { get; set; }
    public uint BlockSize { get; set; }
    public uint FragmentCount { get; set; }
    public SquashFsCompression Compression { get; set; }
    public ushort BlockLog { get; set; }
    public SuperblockFlags Flags { get; set; }
    public ushort IdCount { get; set; }
    public ushort VersionMajor { get; set; } = SquashFsConstants.VersionMajor;
    public ushort VersionMinor { get; set; } = SquashFsConstants.VersionMinor;
    public ulong RootInodeReference { get; set; }
    /// <summary>Bytes of the image actually used (before padding).</summary>
    public ulong BytesUsed { get; set; }
    public ulong IdTableStart { get; set; }
    public ulong XattrIdTableStart { get; set; } = SquashFsConstants.InvalidTableStart;
    public ulong InodeTableStart { get; set; }
    public ulong DirectoryTableStart { get; set; }
    public ulong FragmentTableStart { get; set; } = SquashFsConstants.InvalidTableStart;
    public ulong ExportTableStart { get; set; } = SquashFsConstants.InvalidTableStart;

    public void WriteTo(Span<byte> destination)
    {
        if (destination.Length < SquashFsConstants.SuperblockSize)
            throw new ArgumentException("The superblock needs 96 bytes.", nameof(destination));
        var d = destination;
        BinaryPrimitives.WriteUInt32LittleEndian(d[0..], SquashFsConstants.Magic);
        BinaryPrimitives.WriteUInt32LittleEndian(d[4..], InodeCount);
        BinaryPrimitives.WriteUInt32LittleEndian(d[8..], Mtime);
        BinaryPrimitives.WriteUInt32LittleEndian(d[12..], BlockSize);
        BinaryPrimitives.WriteUInt32LittleEndian(d[16..], FragmentCount);
        BinaryPrimitives.WriteUInt16LittleEndian(d[20..], (ushort)Compression);
        BinaryPrimitives.WriteUInt16LittleEndian(d[22..], BlockLog);
        BinaryPrimitives.WriteUInt16LittleEndian(d[24..], (ushort)Flags);
        BinaryPrimitives.WriteUInt16LittleEndian(d[26..], IdCount);
        BinaryPrimitives.WriteUInt16LittleEndian(d[28..], VersionMajor);
        BinaryPrimitives.WriteUInt16LittleEndian(d[30..], VersionMinor);
        BinaryPrimitives.WriteUInt64LittleEndian(d[32..], RootInodeReference);
        BinaryPrimitives.WriteUInt64LittleEndian(d[40..], BytesUsed);
        BinaryPrimitives.WriteUInt64LittleEndian(d[48..], IdTableStart);
        BinaryPrimitives.WriteUInt64LittleEndian(d[56..], XattrIdTableStart);
        BinaryPrimitives.WriteUInt64LittleEndian(d[64..], InodeTableStart);
        BinaryPrimitives.WriteUInt64LittleEndian(d[72..], DirectoryTableStart);
        BinaryPrimitives.WriteUInt64LittleEndian(d[80..], FragmentTableStart);
        BinaryPrimitives.WriteUInt64LittleEndian(d[88..], ExportTableStart);
    }

    /// <summary>
    /// Parses and checks a superblock. <paramref name="imageLength"/> (bytes available from the image
    /// start, or -1 if unknown) bounds every table start.
    /// </summary>
    /// <exception cref="SquashFsCorruptException">Not a SquashFS 4.0 superblock, or an inconsistent one.</exception>
    public static Superblock Read(ReadOnlySpan<byte> source, long imageLength = -1)
    {
        if (source.Length < SquashFsConstants.SuperblockSize)
            throw new SquashFsCorruptException($"image is {source.Length} bytes, shorter than a superblock (96)");
        var s = source;
        uint magic = BinaryPrimitives.ReadUInt32LittleEndian(s);
        if (magic != SquashFsConstants.Magic)
            throw new SquashFsCorruptException("not a SquashFS image (no \"hsqs\" magic)");
        var sb = new Superblock
        {
            InodeCount = BinaryPrimitives.ReadUInt32LittleEndian(s[4..]),
            Mtime = BinaryPrimitives.ReadUInt32LittleEndian(s[8..]),
            BlockSize = BinaryPrimitives.ReadUInt32LittleEndian(s[12..]),
            FragmentCount = BinaryPrimitives.ReadUInt32LittleEndian(s[16..]),
            Compression = (SquashFsCompression)BinaryPrimitives.ReadUInt16LittleEndian(s[20..]),
            BlockLog = BinaryPrimitives.ReadUInt16LittleEndian(s[22..]),
            Flags = (SuperblockFlags)BinaryPrimitives.ReadUInt16LittleEndian(s[24..]),
            IdCount = BinaryPrimitives.ReadUInt16LittleEndian(s[26..]),
            VersionMajor = BinaryPrimitives.ReadUInt16LittleEndian(s[28..]),
            VersionMinor = BinaryPrimitives.ReadUInt16LittleEndian(s[30..]),
            RootInodeReference = BinaryPrimitives.ReadUInt64LittleEndian(s[32..]),
            BytesUsed = BinaryPrimitives.ReadUInt64LittleEndian(s[40..]),
            IdTableStart = BinaryPrimitives.ReadUInt64LittleEndian(s[48..]),
            XattrIdTableStart = BinaryPrimitives.ReadUInt64LittleEndian(s[56..]),
            InodeTableStart = BinaryPrimitives.ReadUInt64LittleEndian(s[64..]),
            DirectoryTableStart = BinaryPrimitives.ReadUInt64LittleEndian(s[72..]),
            FragmentTableStart = BinaryPrimitives.ReadUInt64LittleEndian(s[80..]),
            ExportTableStart = BinaryPrimitives.ReadUInt64LittleEndian(s[88..]),
        };
        sb.Validate(imageLength);
        return sb;
    }

    private void Validate(long imageLength)
    {
        if (VersionMajor != 4 || VersionMinor != 0)
            throw new SquashFsCorruptException($"SquashFS version {VersionMajor}.{VersionMinor} is not supported (only 4.0)");
        if (BlockSize < SquashFsConstants.MinBlockSize || BlockSize > SquashFsConstants.MaxBlockSize
            || (BlockSize & (BlockSize - 1)) != 0)
            throw new SquashFsCorruptException($"block size {BlockSize} is not a power of two from 4 KiB to 1 MiB");
        if (1u << BlockLog != BlockSize)
            throw new SquashFsCorruptException($"block log {BlockLog} does not match block size {BlockSize}");
        // A range, not Enum.IsDefined: that one goes through reflection, a measurable cost on the FUSE server's way to its mount.
        if (Compression is < SquashFsCompression.Gzip or > SquashFsCompression.Zstd)
            throw new SquashFsCorruptException($"unknown compressor id {(ushort)Compression}");
        if (IdCount == 0)
            throw new SquashFsCorruptException("id table is empty (every image has at least one id)");
        if (InodeCount == 0)
            throw new SquashFsCorruptException("inode count is 0 (every image has a root directory)");
        if (BytesUsed < SquashFsConstants.SuperblockSize)
            throw new SquashFsCorruptException($"bytes used ({BytesUsed}) is smaller than the superblock");
        if (imageLength >= 0 && BytesUsed > (ulong)imageLength)
            throw new SquashFsCorruptException($"image is truncated: superblock says {BytesUsed} bytes, {imageLength} available");
        // Tables are laid out in this order by every writer; a reader only needs them inside the image.
        CheckTable("inode table", InodeTableStart, required: true);
        CheckTable("directory table", DirectoryTableStart, required: true);
        CheckTable("id table", IdTableStart, required: true);
        CheckTable("fragment table", FragmentTableStart, required: false);
        CheckTable("export table", ExportTableStart, required: false);
        CheckTable("xattr id table", XattrIdTableStart, required: false);
        if (DirectoryTableStart < InodeTableStart)
            throw new SquashFsCorruptException("directory table starts before the inode table");
    }

    private void CheckTable(string name, ulong start, bool required)
    {
        if (!required && start == SquashFsConstants.InvalidTableStart)
            return;
        if (start < SquashFsConstants.SuperblockSize || start >= BytesUsed)
            throw new SquashFsCorruptException($"{name} start {start} lies outside the image (0..{BytesUsed})");
    }

    public bool HasFlag(SuperblockFlags flag) => (Flags & flag) != 0;
}
