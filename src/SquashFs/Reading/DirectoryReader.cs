using Xar.SquashFs.Format;

namespace Xar.SquashFs.Reading;

/// <summary>One entry of a directory listing, as stored: a name and where its inode is.</summary>
internal readonly record struct DirectoryEntryRecord(byte[] Name, MetadataReference Inode, InodeType Type, uint InodeNumber);

/// <summary>
/// Reads directory listings from the directory table: runs of entries, each run behind a header
/// (count, inode block, base inode number). Every count, size and reference is checked, and a
/// listing never reads more than the size its inode declares.
/// </summary>
internal sealed class DirectoryReader
{
    private const int HeaderSize = 12;
    private const int EntryFixedSize = 8;

    private readonly MetadataReader _reader;
    private readonly Superblock _sb;
    private readonly long _tableStart;
    private readonly long _tableEnd;
    private readonly long _inodeTableSize;

    public DirectoryReader(MetadataReader reader, Superblock sb, long tableEnd, long inodeTableSize)
    {
        _reader = reader;
        _sb = sb;
        _tableStart = (long)sb.DirectoryTableStart;
        _tableEnd = tableEnd;
        _inodeTableSize = inodeTableSize;
    }

    public IEnumerable<DirectoryEntryRecord> Enumerate(Inode directory) =>
        Enumerate(directory, directory.DirectoryBlock, directory.DirectoryOffset, 3);

    private IEnumerable<DirectoryEntryRecord> Enumerate(Inode directory, uint block, int offset, long consumed)
    {
        long size = directory.DirectorySize;
        if (size <= 3 || consumed >= size)
            yield break;
        var what = new Subject("directory (inode {0})", directory.InodeNumber);
        var c = new MetadataCursor(_reader, _tableStart, _tableEnd, block, offset, what);
        var name = new byte[SquashFsConstants.MaxNameLength];
        while (size - consumed >= HeaderSize)
        {
            uint count = c.ReadUInt32() + 1;
            uint inodeBlock = c.ReadUInt32();
            int baseNumber = (int)c.ReadUInt32();
            consumed += HeaderSize;
            if (count > SquashFsConstants.MaxEntriesPerDirectoryHeader)
                throw new SquashFsCorruptException($"{what}: a header announces {count} entries (at most 256)");
            if (inodeBlock >= _inodeTableSize)
                throw new SquashFsCorruptException($"{what}: inode block {inodeBlock} lies outside the inode table ({_inodeTableSize} bytes)");
            for (uint i = 0; i < count; i++)
            {
                if (size - consumed < EntryFixedSize + 1)
                    throw new SquashFsCorruptException($"{what}: listing is longer than its size ({size - 3} bytes)");
                ushort inodeOffset = c.ReadUInt16();
                short delta = (short)c.ReadUInt16();
                ushort type = c.ReadUInt16();
                int nameLength = c.ReadUInt16() + 1;
                consumed += EntryFixedSize;
                if (nameLength > SquashFsConstants.MaxNameLength)
                    throw new SquashFsCorruptException($"{what}: entry name of {nameLength} bytes (at most 256)");
                if (size - consumed < nameLength)
                    throw new SquashFsCorruptException($"{what}: listing is longer than its size ({size - 3} bytes)");
                if (inodeOffset >= SquashFsConstants.MetadataBlockSize)
                    throw new SquashFsCorruptException($"{what}: inode offset {inodeOffset} is past a metadata block");
                var t = (InodeType)type;
                if (!t.IsValid() || t.IsExtended())
                    throw new SquashFsCorruptException($"{what}: entry type {type} is not a basic inode type");
                c.Read(name.AsSpan(0, nameLength));
                consumed += nameLength;
                long number = (long)baseNumber + delta;
                if (number < 1 || number > _sb.InodeCount)
                    throw new SquashFsCorruptException($"{what}: entry inode number {number} is out of range (1..{_sb.InodeCount})");
                yield return new DirectoryEntryRecord(name.AsSpan(0, nameLength).ToArray(), new MetadataReference(inodeBlock, inodeOffset), t, (uint)number);
            }
        }
        if (consumed != size)
            throw new SquashFsCorruptException($"{what}: listing ends {size - consumed} bytes before its declared size");
    }

    /// <summary>
    /// Finds one name. Extended directories carry an index (the first name after each header and
    /// where that header is), so a lookup in a large directory starts near the name.
    /// </summary>
    public DirectoryEntryRecord? Lookup(Inode directory, ReadOnlySpan<byte> target)
    {
        uint block = directory.DirectoryBlock;
        int offset = directory.DirectoryOffset;
        long consumed = 3;
        if (directory.DirectoryIndexCount > 0 && directory.Type == InodeType.ExtendedDirectory)
        {
            var what = new Subject("directory index (inode {0})", directory.InodeNumber);
            var c = new MetadataCursor(_reader, (long)_sb.InodeTableStart, (long)_sb.InodeTableStart + _inodeTableSize,
                directory.DirectoryIndex.Block, directory.DirectoryIndex.Offset, what);
            var name = new byte[SquashFsConstants.MaxNameLength];
            for (int i = 0; i < directory.DirectoryIndexCount; i++)
            {
                uint index = c.ReadUInt32();
                uint start = c.ReadUInt32();
                int nameLength = (int)c.ReadUInt32() + 1;
                if (nameLength <= 0 || nameLength > SquashFsConstants.MaxNameLength)
                    throw new SquashFsCorruptException($"{what}: name of {nameLength} bytes");
                c.Read(name.AsSpan(0, nameLength));
                if (name.AsSpan(0, nameLength).SequenceCompareTo(target) > 0)
                    break;
                if (index + 3L >= directory.DirectorySize || start < block)
                    throw new SquashFsCorruptException($"{what}: entry {i} points outside the listing");
                block = start;
                consumed = index + 3L;
                offset = (int)((index + directory.DirectoryOffset) % SquashFsConstants.MetadataBlockSize);
            }
        }
        foreach (var e in Enumerate(directory, block, offset, consumed))
            if (target.SequenceEqual(e.Name))
                return e;
        return null;
    }
}
