using Xar.SquashFs;
using Xar.SquashFs.Format;
using Xar.SquashFs.Reading;

namespace Xar.Runtime.Fuse;

/// <summary>
/// Walks one directory listing from any position, as the kernel's squashfs readdir does: positions
/// are byte offsets into the listing plus 3 (0 is ".", 1 is "..", which are not stored), so a
/// READDIR can resume at the offset the previous reply handed out. An extended directory's index
/// (one entry per metadata block of the listing) lets both a resumed walk and a name lookup start
/// near where they are going instead of at the top. Names go into the caller's 256-byte buffer:
/// nothing is allocated per entry. Every count, size and reference is checked as
/// <see cref="DirectoryReader"/> checks them.
/// </summary>
internal ref struct DirectoryCursor
{
    private const int HeaderSize = 12;
    private const int EntryFixedSize = 8;

    private readonly ImageFileSystem _fs;
    private readonly Inode _directory;
    private readonly MetadataCursor? _cursor;
    private readonly Span<byte> _name;
    private readonly long _size;
    private long _consumed;
    private uint _remaining;
    private uint _inodeBlock;
    private int _baseNumber;

    private DirectoryCursor(ImageFileSystem fs, Inode directory, uint block, int offset, long consumed, Span<byte> nameBuffer)
    {
        _fs = fs;
        _directory = directory;
        _name = nameBuffer;
        _size = directory.DirectorySize;
        _consumed = consumed;
        if (_size > 3 && consumed < _size)
            _cursor = new MetadataCursor(fs.Metadata, fs.DirectoryTableStart, fs.DirectoryTableEnd, block, offset, What);
    }

    private readonly Subject What => new("directory (inode {0})", _directory.InodeNumber);

    /// <summary>The current entry's name (valid until the next move).</summary>
    public ReadOnlySpan<byte> Name { get; private set; }

    public MetadataReference Inode { get; private set; }

    public InodeType Type { get; private set; }

    public uint InodeNumber { get; private set; }

    /// <summary>Where the entry after the current one starts: the cookie READDIR hands out with it.</summary>
    public readonly long NextPosition => _consumed;

    /// <summary>
    /// A walk that yields the entries that end after <paramref name="position"/> (an offset a
    /// previous walk returned as <see cref="NextPosition"/>, or 3 for the first stored entry).
    /// </summary>
    public static DirectoryCursor At(ImageFileSystem fs, Inode directory, long position, Span<byte> nameBuffer)
    {
        uint block = directory.DirectoryBlock;
        int offset = directory.DirectoryOffset;
        long consumed = 3;
        if (directory.Type == InodeType.ExtendedDirectory && directory.DirectoryIndexCount > 0 && position > 3)
        {
            var index = new IndexReader(fs, directory);
            for (int i = 0; i < directory.DirectoryIndexCount; i++)
            {
                index.Next(nameBuffer, out uint listingOffset, out uint start, out _);
                if (listingOffset > position - 3)
                    break;
                index.Check(listingOffset, start, block, i);
                block = start;
                consumed = listingOffset + 3L;
                offset = (int)((listingOffset + directory.DirectoryOffset) % SquashFsConstants.MetadataBlockSize);
            }
        }
        var cursor = new DirectoryCursor(fs, directory, block, offset, consumed, nameBuffer);
        cursor._skipUntil = position;
        return cursor;
    }

    /// <summary>A walk that starts at the last indexed run whose first name is not after <paramref name="name"/>.</summary>
    public static DirectoryCursor Near(ImageFileSystem fs, Inode directory, ReadOnlySpan<byte> name, Span<byte> nameBuffer)
    {
        uint block = directory.DirectoryBlock;
        int offset = directory.DirectoryOffset;
        long consumed = 3;
        if (directory.Type == InodeType.ExtendedDirectory && directory.DirectoryIndexCount > 0)
        {
            var index = new IndexReader(fs, directory);
            for (int i = 0; i < directory.DirectoryIndexCount; i++)
            {
                index.Next(nameBuffer, out uint listingOffset, out uint start, out int nameLength);
                if (nameBuffer[..nameLength].SequenceCompareTo(name) > 0)
                    break;
                index.Check(listingOffset, start, block, i);
                block = start;
                consumed = listingOffset + 3L;
                offset = (int)((listingOffset + directory.DirectoryOffset) % SquashFsConstants.MetadataBlockSize);
            }
        }
        return new DirectoryCursor(fs, directory, block, offset, consumed, nameBuffer);
    }

    private long _skipUntil;

    /// <summary>Moves to the next entry; false at the end of the listing.</summary>
    public bool MoveNext()
    {
        while (true)
        {
            if (_cursor is null)
                return false;
            if (_remaining == 0)
            {
                if (_size - _consumed < HeaderSize)
                {
                    if (_consumed != _size)
                        throw new SquashFsCorruptException($"{What}: listing ends {_size - _consumed} bytes before its declared size");
                    return false;
                }
                uint count = _cursor.ReadUInt32() + 1;
                _inodeBlock = _cursor.ReadUInt32();
                _baseNumber = (int)_cursor.ReadUInt32();
                _consumed += HeaderSize;
                if (count > SquashFsConstants.MaxEntriesPerDirectoryHeader)
                    throw new SquashFsCorruptException($"{What}: a header announces {count} entries (at most 256)");
                if (_inodeBlock >= _fs.InodeTableSize)
                    throw new SquashFsCorruptException($"{What}: inode block {_inodeBlock} lies outside the inode table ({_fs.InodeTableSize} bytes)");
                _remaining = count;
            }
            if (_size - _consumed < EntryFixedSize + 1)
                throw new SquashFsCorruptException($"{What}: listing is longer than its size ({_size - 3} bytes)");
            ushort inodeOffset = _cursor.ReadUInt16();
            short delta = (short)_cursor.ReadUInt16();
            ushort type = _cursor.ReadUInt16();
            int nameLength = _cursor.ReadUInt16() + 1;
            _consumed += EntryFixedSize;
            if (nameLength > SquashFsConstants.MaxNameLength)
                throw new SquashFsCorruptException($"{What}: entry name of {nameLength} bytes (at most 256)");
            if (_size - _consumed < nameLength)
                throw new SquashFsCorruptException($"{What}: listing is longer than its size ({_size - 3} bytes)");
            if (inodeOffset >= SquashFsConstants.MetadataBlockSize)
                throw new SquashFsCorruptException($"{What}: inode offset {inodeOffset} is past a metadata block");
            var t = (InodeType)type;
            if (!t.IsValid() || t.IsExtended())
                throw new SquashFsCorruptException($"{What}: entry type {type} is not a basic inode type");
            var name = _name[..nameLength];
            _cursor.Read(name);
            _consumed += nameLength;
            _remaining--;
            long number = (long)_baseNumber + delta;
            if (number < 1 || number > _fs.InodeCount)
                throw new SquashFsCorruptException($"{What}: entry inode number {number} is out of range (1..{_fs.InodeCount})");
            // As the kernel: an entry is skipped when the resume position is at or past its end.
            if (_consumed <= _skipUntil)
                continue;
            Name = name;
            Inode = new MetadataReference(_inodeBlock, inodeOffset);
            Type = t;
            InodeNumber = (uint)number;
            return true;
        }
    }

    /// <summary>The index of an extended directory: (listing offset, block, name) of the first header in each metadata block.</summary>
    private readonly struct IndexReader
    {
        private readonly MetadataCursor _cursor;
        private readonly Inode _directory;

        public IndexReader(ImageFileSystem fs, Inode directory)
        {
            _directory = directory;
            _cursor = new MetadataCursor(fs.Metadata, fs.InodeTableStart, fs.InodeTableStart + fs.InodeTableSize,
                directory.DirectoryIndex.Block, directory.DirectoryIndex.Offset, new Subject("directory index (inode {0})", directory.InodeNumber));
        }

        public void Next(Span<byte> name, out uint listingOffset, out uint start, out int nameLength)
        {
            listingOffset = _cursor.ReadUInt32();
            start = _cursor.ReadUInt32();
            uint size = _cursor.ReadUInt32();
            if (size >= SquashFsConstants.MaxNameLength)
                throw new SquashFsCorruptException($"directory index (inode {_directory.InodeNumber}): name of {size + 1L} bytes");
            nameLength = (int)size + 1;
            _cursor.Read(name[..nameLength]);
        }

        public void Check(uint listingOffset, uint start, uint block, int i)
        {
            if (listingOffset + 3L >= _directory.DirectorySize || start < block)
                throw new SquashFsCorruptException($"directory index (inode {_directory.InodeNumber}): entry {i} points outside the listing");
        }
    }
}
