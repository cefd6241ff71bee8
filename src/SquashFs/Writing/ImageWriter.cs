using System.Buffers.Binary;
using System.Numerics;
using Xar.SquashFs.Compression;
using Xar.SquashFs.Format;

namespace Xar.SquashFs.Writing;

/// <summary>
/// Builds a whole image: scan the tree, write file data (parallel), then the inode and directory
/// tables (children before parents, so every reference is known when written), the fragment,
/// export, id and xattr tables in the order the kernel expects, the superblock, and padding to 4 KiB.
/// The tree is scanned and written recursively, a frame per level, on a thread of its own with a
/// stack sized for <see cref="SquashFsConstants.MaxDirectoryDepth"/> levels (whatever the caller's thread).
/// </summary>
internal static class ImageWriter
{
    private const int StackSize = 256 << 20; // reserved, committed only as deep as the tree goes

    public static void Write(string sourceDirectory, Stream destination, SquashFsWriterOptions options, CancellationToken cancel)
    {
        Exception? error = null;
        var thread = new Thread(() =>
        {
            try
            {
                WriteOnThisThread(sourceDirectory, destination, options, cancel);
            }
            catch (Exception e)
            {
                error = e;
            }
        }, StackSize) { Name = "squashfs-pack" };
        thread.Start();
        thread.Join();
        if (error is not null)
            System.Runtime.ExceptionServices.ExceptionDispatchInfo.Throw(error);
    }

    private static void WriteOnThisThread(string sourceDirectory, Stream destination, SquashFsWriterOptions options, CancellationToken cancel)
    {
        options.Validate();
        var compression = options.Compression;
        uint imageTime = options.ImageTime ?? SquashFsWriterOptions.GetDefaultImageTime();

        using var metaCompressor = compression.Uncompressed ? null : CompressorFactory.CreateCompressor(compression, options.BlockSize);
        var ids = new IdTable();
        var xattrs = options.NoXattrs ? null : new XattrWriter(metaCompressor);
        var scanner = new Writing.TreeScanner(options, ids, xattrs, cancel);
        if (TreeScanner.StatOpenFile(destination) is { } self)
            scanner.SkipFile(self);
        if (options.ReplacedFile is not null && TreeScanner.StatPath(options.ReplacedFile) is { } replaced)
            scanner.SkipFile(replaced);
        var root = scanner.Scan(sourceDirectory);

        var output = new ImageOutput(destination);
        output.WriteZeros(SquashFsConstants.SuperblockSize);
        var flags = SuperblockFlags.Exportable;
        byte[] optionsPayload = compression.Uncompressed ? [] : CompressorFactory.EncodeOptions(compression, options.BlockSize);
        if (optionsPayload.Length > 0)
        {
            Span<byte> header = stackalloc byte[2];
            BinaryPrimitives.WriteUInt16LittleEndian(header, (ushort)(optionsPayload.Length | SquashFsConstants.MetadataUncompressedBit));
            output.Write(header);
            output.Write(optionsPayload);
            flags |= SuperblockFlags.CompressorOptions;
        }

        // File data.
        long filesDone = 0, bytesRead = 0;
        long filesTotal = scanner.Files.Count, bytesTotal = scanner.TotalFileBytes;
        IReadOnlyList<(ulong Start, uint Size)> fragments;
        DataWriter? writer = null;
        using (var data = new DataWriter(output, options, scanner.Files, n =>
        {
            bytesRead += n;
            options.Progress?.Invoke(new SquashFsWriteProgress(filesDone, filesTotal, bytesRead, bytesTotal, writer?.BytesWritten ?? 0));
        }, cancel))
        {
            writer = data;
            foreach (var file in scanner.Files)
            {
                cancel.ThrowIfCancellationRequested();
                data.AddFile(file);
                filesDone++;
                options.Progress?.Invoke(new SquashFsWriteProgress(filesDone, filesTotal, bytesRead, bytesTotal, data.BytesWritten));
            }
            data.Complete();
            fragments = data.FragmentTable;
        }

        // Inode numbers: children of a directory get consecutive numbers, subtrees first, root last.
        var order = new List<SourceInode>(scanner.InodeCount);
        Plan(root, order);
        root.Written = false;
        order.Add(root);
        for (int i = 0; i < order.Count; i++)
        {
            order[i].Number = (uint)(i + 1);
            order[i].Written = false;
        }

        var inodeTable = new MetadataWriter(metaCompressor);
        var directoryTable = new MetadataWriter(metaCompressor);
        var inodes = new InodeWriter(inodeTable);
        var directories = new DirectoryWriter(directoryTable);
        WriteDirectory(root, inodes, directories);
        root.ParentNumber = (uint)order.Count + 1; // as mksquashfs: beyond every inode number
        inodes.Write(root);
        inodeTable.Flush();
        directoryTable.Flush();

        var sb = new Superblock
        {
            InodeCount = (uint)order.Count,
            Mtime = imageTime,
            BlockSize = (uint)options.BlockSize,
            FragmentCount = (uint)fragments.Count,
            Compression = compression.Algorithm,
            BlockLog = (ushort)BitOperations.Log2((uint)options.BlockSize),
            IdCount = (ushort)ids.Count,
            RootInodeReference = root.Reference.Packed,
        };
        sb.InodeTableStart = (ulong)output.Position;
        output.Write(inodeTable.Table);
        sb.DirectoryTableStart = (ulong)output.Position;
        output.Write(directoryTable.Table);

        var fragmentEntries = new byte[fragments.Count * 16];
        for (int i = 0; i < fragments.Count; i++)
        {
            BinaryPrimitives.WriteUInt64LittleEndian(fragmentEntries.AsSpan(i * 16), fragments[i].Start);
            BinaryPrimitives.WriteUInt32LittleEndian(fragmentEntries.AsSpan(i * 16 + 8), fragments[i].Size);
        }
        sb.FragmentTableStart = LookupTableWriter.Write(output, fragmentEntries, metaCompressor);

        var exportEntries = new byte[order.Count * 8];
        foreach (var inode in order)
            BinaryPrimitives.WriteUInt64LittleEndian(exportEntries.AsSpan((int)(inode.Number - 1) * 8), inode.Reference.Packed);
        sb.ExportTableStart = LookupTableWriter.Write(output, exportEntries, metaCompressor);

        sb.IdTableStart = ids.Write(output, metaCompressor);
        if (xattrs is not null && xattrs.Count > 0)
            sb.XattrIdTableStart = xattrs.Write(output, metaCompressor);

        if (compression.Uncompressed)
            flags |= SuperblockFlags.UncompressedInodes | SuperblockFlags.UncompressedData | SuperblockFlags.UncompressedFragments
                | SuperblockFlags.UncompressedXattrs | SuperblockFlags.UncompressedIds;
        flags |= options.NoFragments ? SuperblockFlags.NoFragments : SuperblockFlags.AlwaysFragments;
        if (!options.NoDeduplication)
            flags |= SuperblockFlags.Duplicates;
        if (options.NoXattrs)
            flags |= SuperblockFlags.NoXattrs;
        sb.Flags = flags;
        sb.BytesUsed = (ulong)output.Position;
        long padded = (output.Position + SquashFsConstants.DevicePadding - 1) / SquashFsConstants.DevicePadding * SquashFsConstants.DevicePadding;
        output.WriteZeros(padded - output.Position);
        Span<byte> superblock = stackalloc byte[SquashFsConstants.SuperblockSize];
        sb.WriteTo(superblock);
        output.WriteAt(0, superblock);
        destination.Flush();
    }

    private static void Plan(SourceInode directory, List<SourceInode> order)
    {
        var entries = directory.Directory!.Entries;
        foreach (var e in entries)
            if (e.Inode.Type == InodeType.Directory)
                Plan(e.Inode, order);
        foreach (var e in entries)
            if (!e.Inode.Written)
            {
                e.Inode.Written = true; // "planned" here; reset before writing
                order.Add(e.Inode);
            }
    }

    private static void WriteDirectory(SourceInode directory, InodeWriter inodes, DirectoryWriter directories)
    {
        var entries = directory.Directory!.Entries;
        uint subdirectories = 0;
        foreach (var e in entries)
            if (e.Inode.Type == InodeType.Directory)
            {
                WriteDirectory(e.Inode, inodes, directories);
                e.Inode.ParentNumber = directory.Number;
                subdirectories++;
            }
        directory.SubdirectoryCount = subdirectories;
        foreach (var e in entries)
            if (!e.Inode.Written)
                inodes.Write(e.Inode);
        directory.Directory.Listing = directories.Write(directory.Directory);
    }
}
