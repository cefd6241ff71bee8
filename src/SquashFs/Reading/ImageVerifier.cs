using Xar.SquashFs.Format;
using Xar.Posix;

namespace Xar.SquashFs.Reading;

/// <summary>
/// Reads and checks everything in an image: every metadata block of every table, every inode
/// reachable from the root, every directory listing, every data and fragment block (decompressed
/// to its exact size), every xattr set, the export table against the inodes found, and the
/// counts in the superblock. Stops at the first problem with a <see cref="SquashFsCorruptException"/>.
/// Iterative, and within <see cref="SquashFsConstants.MaxDirectoryDepth"/> levels (the limit of every
/// xar reader). Memory: eight bytes per inode met, the directories still to visit, and nothing per
/// entry of the directory being read (duplicate names are found by the listing's order).
/// </summary>
internal sealed class ImageVerifier(SquashFsImage image)
{
    private readonly InodeNumberTable _inodes = new(image.Superblock.InodeCount);
    private readonly SquashFsVerifyReport _report = new();

    public SquashFsVerifyReport Run()
    {
        var sb = image.Superblock;
        _report.MetadataBlocks += WalkMetadata((long)sb.InodeTableStart, (long)sb.DirectoryTableStart, "inode table");
        _report.MetadataBlocks += WalkMetadata((long)sb.DirectoryTableStart, image.DirectoryTableEnd, "directory table");
        image.Ids.Table.VerifyBlocks();
        image.Fragments?.Table.VerifyBlocks();
        image.Export?.Table.VerifyBlocks();
        image.Xattrs?.IdTable.VerifyBlocks();

        var buffer = new byte[image.Data.BlockSize];
        if (image.Fragments is not null)
            for (uint i = 0; i < image.Fragments.Count; i++)
            {
                // Decodes the whole fragment block (a zero-length tail at offset 0).
                image.Data.ReadFragment(i, 0, Span<byte>.Empty, $"fragment block {i}");
                _report.FragmentBlocks++;
            }
        if (image.Xattrs is not null)
            for (uint i = 0; i < image.Xattrs.Count; i++)
                image.Xattrs.Check(i);

        var root = image.Root;
        Record(root);
        _inodes.Mark(root.InodeNumber);
        var stack = new Stack<(SquashFsEntry Directory, int Depth)>();
        stack.Push((root, 0));
        var names = new DuplicateNameCheck();
        var xattrRecord = new byte[16];
        while (stack.Count > 0)
        {
            var (dir, depth) = stack.Pop();
            _report.Directories++;
            names.Reset();
            foreach (var entry in image.EnumerateDirectory(dir))
            {
                if (!EntryName.IsSafe(entry.NameBytes))
                    throw new SquashFsCorruptException($"{dir.FullName}/: invalid entry name \"{NativePath.Display(entry.NameBytes)}\"");
                if (!names.Add(entry.NameBytes, () => image.EnumerateDirectory(dir).Select(e => e.NameBytes)))
                    throw new SquashFsCorruptException($"{entry.FullName}: the name appears twice in its directory");
                Record(entry);
                // Every set was checked above; an entry needs only a set that exists (the inode reader
                // refuses an xattr index in an image without the table).
                if (entry.Inode.HasXattrs)
                    image.Xattrs!.IdTable.Read(entry.Inode.XattrIndex, xattrRecord);
                switch (entry.EntryType)
                {
                    case SquashFsEntryType.Directory:
                        if (!_inodes.Mark(entry.InodeNumber))
                            throw new SquashFsCorruptException($"{entry.FullName}: directory reached twice (a loop or a hard link to a directory)");
                        if (entry.Inode.ParentInode != dir.InodeNumber)
                            throw new SquashFsCorruptException($"{entry.FullName}: parent inode number {entry.Inode.ParentInode}, but it is in directory inode {dir.InodeNumber}");
                        if (depth + 1 > SquashFsConstants.MaxDirectoryDepth)
                            throw new SquashFsCorruptException($"{entry.FullName}: directories nest deeper than {SquashFsConstants.MaxDirectoryDepth} levels (xar's limit)");
                        stack.Push((entry, depth + 1));
                        break;
                    case SquashFsEntryType.RegularFile:
                        _report.Files++;
                        if (_inodes.Mark(entry.InodeNumber))
                            VerifyFile(entry, buffer);
                        break;
                    case SquashFsEntryType.SymbolicLink:
                        _report.Symlinks++;
                        break;
                    default:
                        _report.Others++;
                        break;
                }
            }
        }
        if (_inodes.Count != sb.InodeCount)
            throw new SquashFsCorruptException($"superblock counts {sb.InodeCount} inodes, the tree holds {_inodes.Count}");
        if (image.Export is not null)
            foreach (var (number, reference) in _inodes.Recorded())
                if (image.Export.Get(number).Packed != reference)
                    throw new SquashFsCorruptException($"export table: inode {number} points to {image.Export.Get(number)}, the tree has it at {MetadataReference.FromPacked(reference)}");
        _report.Inodes = _inodes.Count;
        return _report;
    }

    private void Record(SquashFsEntry entry)
    {
        if (!_inodes.Record(entry.InodeNumber, entry.Inode.Reference.Packed))
            throw new SquashFsCorruptException($"{entry}: inode number {entry.InodeNumber} is used by two different inodes");
    }

    private void VerifyFile(SquashFsEntry entry, byte[] buffer)
    {
        var layout = image.GetLayout(entry.Inode);
        for (int i = 0; i < layout.BlockCount; i++)
        {
            layout.ReadBlock(image.Data, i, buffer);
            if (!layout.IsSparse(i))
                _report.DataBlocks++;
        }
        if (layout.TailLength > 0)
            layout.ReadTail(image.Data, buffer);
        _report.FileBytes += layout.Length;
    }

    private long WalkMetadata(long start, long end, Subject what)
    {
        long count = 0;
        long p = start;
        while (p < end)
        {
            var block = image.Metadata.Read(p, end, what);
            if (block.NextPosition < end && block.Length != SquashFsConstants.MetadataBlockSize)
                throw new SquashFsCorruptException($"{what}: metadata block at {p} holds {block.Length} bytes; only the last block may be short");
            p = block.NextPosition;
            count++;
        }
        return count;
    }
}
