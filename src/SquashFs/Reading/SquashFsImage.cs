using System.Buffers.Binary;
using System.Text;
using Microsoft.Win32.SafeHandles;
using Xar.Posix;
using Xar.SquashFs.Compression;
using Xar.SquashFs.Format;
using Xar.SquashFs.Reading;

namespace Xar.SquashFs;

/// <summary>
/// A SquashFS 4.0 image opened for reading, at offset 0 of a file or stream or at any offset inside one
/// (a container format in front of it is its caller's business).
/// Random access: look up a path, list a directory, read a file from any offset, decompressing
/// only the blocks needed. Every table and reference is checked; corrupt input throws
/// <see cref="SquashFsCorruptException"/> naming what is wrong. Thread-safe for reading.
/// </summary>
public sealed class SquashFsImage : IDisposable
{
    /// <summary>Most symlinks followed while resolving one path (as Linux's MAXSYMLINKS).</summary>
    public const int MaxSymlinkFollows = 40;

    private readonly ImageSource _source;
    private readonly DecompressorPool _decompressors;
    private readonly IdTable _ids;
    private readonly XattrReader? _xattrs;
    private readonly ExportTable? _export;
    private bool _disposed;

    private SquashFsImage(ImageSource source, long offset)
    {
        _source = source;
        ImageOffset = offset;
        Span<byte> sbBytes = stackalloc byte[SquashFsConstants.SuperblockSize];
        if (source.Length < SquashFsConstants.SuperblockSize)
            throw new SquashFsCorruptException(source.Length == 0 && offset > 0
                ? $"no image at byte {offset}: the file ends there or before"
                : $"image is {source.Length} bytes, shorter than a superblock (96)");
        source.ReadExactly(0, sbBytes, "superblock");
        var sb = Superblock.Read(sbBytes, source.Length);
        Superblock = sb;

        byte[] optionsPayload = [];
        if (sb.HasFlag(SuperblockFlags.CompressorOptions))
            optionsPayload = ReadOptionsBlock(source, sb);
        CompressionOptions = CompressorFactory.DecodeOptions(sb.Compression, optionsPayload, (int)sb.BlockSize);
        var algorithm = sb.Compression;
        // The first one also checks that the codec's library is present.
        var first = CompressorFactory.CreateDecompressor(algorithm, optionsPayload);
        _decompressors = new DecompressorPool(() => CompressorFactory.CreateDecompressor(algorithm, optionsPayload));
        _decompressors.Return(first);
        Metadata = new MetadataReader(source, _decompressors);

        // Layout as every writer makes it: data, inode table, directory table, then the lookup
        // tables (fragments, export, ids, xattrs), each lookup table's blocks before its location list.
        long inodeStart = (long)sb.InodeTableStart;
        long dirStart = (long)sb.DirectoryTableStart;
        long bytesUsed = (long)sb.BytesUsed;
        if (dirStart <= inodeStart)
            throw new SquashFsCorruptException("directory table does not start after the inode table");
        _ids = new IdTable(source, Metadata, sb, dirStart);
        long dirEnd = Math.Min(bytesUsed, _ids.Table.FirstBlock);
        FragmentTable? fragments = null;
        if (sb.FragmentTableStart != SquashFsConstants.InvalidTableStart)
        {
            fragments = new FragmentTable(new LookupTable(source, Metadata, (long)sb.FragmentTableStart, sb.FragmentCount, 16, dirStart, "fragment table"),
                inodeStart, sb.BlockSize);
            dirEnd = Math.Min(dirEnd, fragments.Table.FirstBlock);
        }
        else if (sb.FragmentCount != 0)
        {
            throw new SquashFsCorruptException($"superblock counts {sb.FragmentCount} fragments but there is no fragment table");
        }
        if (sb.ExportTableStart != SquashFsConstants.InvalidTableStart)
        {
            _export = new ExportTable(new LookupTable(source, Metadata, (long)sb.ExportTableStart, sb.InodeCount, 8, dirStart, "export table"));
            dirEnd = Math.Min(dirEnd, _export.Table.FirstBlock);
        }
        if (sb.XattrIdTableStart != SquashFsConstants.InvalidTableStart)
        {
            _xattrs = new XattrReader(source, Metadata, sb);
            dirEnd = Math.Min(dirEnd, (long)BinaryPrimitives.ReadUInt64LittleEndian(ReadBytes(source, (long)sb.XattrIdTableStart, 8)));
        }
        if (dirEnd <= dirStart)
            throw new SquashFsCorruptException("directory table is empty or overlaps the tables after it");
        Inodes = new InodeReader(Metadata, sb, dirStart);
        Directories = new DirectoryReader(Metadata, sb, dirEnd, dirStart - inodeStart);
        Data = new DataBlockReader(source, _decompressors, fragments, (int)sb.BlockSize, inodeStart);
        Fragments = fragments;
        DataEnd = inodeStart;
        DirectoryTableEnd = dirEnd;

        var rootInode = Inodes.Read(MetadataReference.FromPacked(sb.RootInodeReference));
        if (rootInode.BasicType != InodeType.Directory)
            throw new SquashFsCorruptException($"root inode is a {rootInode.Type}, not a directory");
        Root = MakeEntry([], rootInode, null);
    }

    public Superblock Superblock { get; }

    /// <summary>Where the image starts in the file or stream.</summary>
    public long ImageOffset { get; }

    /// <summary>The compressor and the settings in the image's compressor-options block.</summary>
    public CompressionOptions CompressionOptions { get; }

    public SquashFsEntry Root { get; }

    internal MetadataReader Metadata { get; }
    internal InodeReader Inodes { get; }
    internal DirectoryReader Directories { get; }
    internal DataBlockReader Data { get; }
    internal FragmentTable? Fragments { get; }
    internal IdTable Ids => _ids;
    internal XattrReader? Xattrs => _xattrs;
    internal ExportTable? Export => _export;
    internal ImageSource Source => _source;
    internal long DataEnd { get; }
    internal long DirectoryTableEnd { get; }

    /// <summary>Opens the SquashFS image at the start of a file.</summary>
    public static SquashFsImage Open(string path) => Open(path, 0);

    /// <summary>Opens the SquashFS image that starts at byte <paramref name="offset"/> of a file.</summary>
    public static SquashFsImage Open(string path, long offset)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(offset);
        var handle = File.OpenHandle(path, FileMode.Open, FileAccess.Read, FileShare.Read);
        return Open(handle, offset, leaveOpen: false);
    }

    /// <summary>
    /// Opens the image at <paramref name="offset"/> of an open file, read with pread (no shared position):
    /// what a caller checked through this descriptor is what is read, even if the path is replaced.
    /// </summary>
    public static SquashFsImage Open(SafeFileHandle handle, long offset, bool leaveOpen = false)
    {
        ArgumentNullException.ThrowIfNull(handle);
        ArgumentOutOfRangeException.ThrowIfNegative(offset);
        try
        {
            return new SquashFsImage(ImageSource.FromFile(handle, offset, ownsHandle: !leaveOpen), offset);
        }
        catch
        {
            if (!leaveOpen)
                handle.Dispose();
            throw;
        }
    }

    /// <summary>Opens the image at <paramref name="offset"/> of a readable, seekable stream.</summary>
    public static SquashFsImage Open(Stream stream, long offset = 0, bool leaveOpen = false)
    {
        ArgumentNullException.ThrowIfNull(stream);
        ArgumentOutOfRangeException.ThrowIfNegative(offset);
        try
        {
            return new SquashFsImage(ImageSource.FromStream(stream, offset, leaveOpen), offset);
        }
        catch
        {
            if (!leaveOpen)
                stream.Dispose();
            throw;
        }
    }

    /// <summary>
    /// The entry at <paramref name="path"/> ('/'-separated, from the image root; "" or "/" is the root),
    /// or null when there is none. Symlinks are followed (inside the image, at most
    /// <see cref="MaxSymlinkFollows"/> times) only when <paramref name="followSymlinks"/> is true;
    /// otherwise a path through a symlink is not found.
    /// </summary>
    public SquashFsEntry? GetEntry(string path, bool followSymlinks = false)
    {
        ArgumentNullException.ThrowIfNull(path);
        return GetEntry(LosslessUtf8.Encode(path), followSymlinks); // a name that is not UTF-8 given as a lossless string
    }

    /// <summary>As <see cref="GetEntry(string, bool)"/>, for a path given as raw bytes.</summary>
    public SquashFsEntry? GetEntry(ReadOnlySpan<byte> path, bool followSymlinks = false)
    {
        ObjectDisposedException.ThrowIf(_disposed, this);
        int follows = 0;
        var stack = new List<SquashFsEntry> { Root };
        var pending = new Stack<byte[]>();
        PushComponents(pending, path);
        while (pending.Count > 0)
        {
            byte[] name = pending.Pop();
            var current = stack[^1];
            if (name.Length == 0 || name.AsSpan().SequenceEqual("."u8))
                continue;
            if (name.AsSpan().SequenceEqual(".."u8))
            {
                if (stack.Count > 1)
                    stack.RemoveAt(stack.Count - 1);
                continue;
            }
            if (current.EntryType != SquashFsEntryType.Directory)
                return null;
            var found = Directories.Lookup(current.Inode, name);
            if (found is null)
                return null;
            var inode = Inodes.Read(found.Value.Inode);
            CheckEntryType(found.Value, inode);
            var entry = MakeEntry(found.Value.Name, inode, current);
            bool last = pending.Count == 0;
            if (entry.EntryType == SquashFsEntryType.SymbolicLink && (followSymlinks || !last))
            {
                if (!followSymlinks)
                    return null;
                if (++follows > MaxSymlinkFollows)
                    throw new SquashFsCorruptException($"too many levels of symbolic links resolving {Encoding.UTF8.GetString(path)}");
                var target = inode.SymlinkTarget;
                if (target.Length > 0 && target[0] == (byte)'/')
                    stack.RemoveRange(1, stack.Count - 1);
                PushComponents(pending, target);
                continue;
            }
            stack.Add(entry);
        }
        return stack[^1];
    }

    private static void PushComponents(Stack<byte[]> pending, ReadOnlySpan<byte> path)
    {
        var parts = new List<byte[]>();
        foreach (var range in path.Split((byte)'/'))
            parts.Add(path[range].ToArray());
        for (int i = parts.Count - 1; i >= 0; i--)
            pending.Push(parts[i]);
    }

    /// <summary>The entries of a directory, in the order stored (sorted by name bytes).</summary>
    public IEnumerable<SquashFsEntry> EnumerateDirectory(SquashFsEntry directory)
    {
        ArgumentNullException.ThrowIfNull(directory);
        ObjectDisposedException.ThrowIf(_disposed, this);
        if (directory.EntryType != SquashFsEntryType.Directory)
            throw new ArgumentException($"{directory} is not a directory", nameof(directory));
        foreach (var record in Directories.Enumerate(directory.Inode))
        {
            var inode = Inodes.Read(record.Inode);
            CheckEntryType(record, inode);
            yield return MakeEntry(record.Name, inode, directory);
        }
    }

    /// <summary>A read-only, seekable stream of a regular file's bytes.</summary>
    public Stream OpenRead(SquashFsEntry entry)
    {
        ArgumentNullException.ThrowIfNull(entry);
        ObjectDisposedException.ThrowIf(_disposed, this);
        if (entry.EntryType != SquashFsEntryType.RegularFile)
            throw new ArgumentException($"{entry} is not a regular file", nameof(entry));
        return new SquashFsFileStream(GetLayout(entry.Inode), Data);
    }

    /// <summary>The entry's extended attributes (names with their namespace prefix), in stored order.</summary>
    /// <exception cref="SquashFsCorruptException">The set is corrupt, or its names and values come to more than 16 MiB.</exception>
    public IReadOnlyList<SquashFsXattr> GetXattrs(SquashFsEntry entry)
    {
        ArgumentNullException.ThrowIfNull(entry);
        ObjectDisposedException.ThrowIf(_disposed, this);
        if (!entry.Inode.HasXattrs)
            return [];
        if (_xattrs is null)
            throw new SquashFsCorruptException($"{entry}: has an xattr index but the image has no xattr table");
        return _xattrs.Read(entry.Inode.XattrIndex);
    }

    /// <summary>
    /// Reads and checks every table, inode, directory, xattr set and data block (decompressing all
    /// of them), and the superblock's counts against what the tree holds.
    /// </summary>
    /// <exception cref="SquashFsCorruptException">The first problem found.</exception>
    public SquashFsVerifyReport Verify()
    {
        ObjectDisposedException.ThrowIf(_disposed, this);
        return new ImageVerifier(this).Run();
    }

    internal FileLayout GetLayout(Inode inode) => new(inode, Inodes.ReadBlockSizes(inode), Data, DataEnd);

    internal SquashFsEntry MakeEntry(byte[] name, Inode inode, SquashFsEntry? parent) =>
        new(name, inode, _ids[inode.UidIndex, "uid"], _ids[inode.GidIndex, "gid"], parent);

    internal static void CheckEntryType(DirectoryEntryRecord record, Inode inode)
    {
        if (record.Type != inode.BasicType)
            throw new SquashFsCorruptException($"directory entry \"{Encoding.UTF8.GetString(record.Name)}\" says {record.Type} but its inode {record.Inode} is a {inode.Type}");
    }

    private static byte[] ReadOptionsBlock(ImageSource source, Superblock sb)
    {
        var header = ReadBytes(source, SquashFsConstants.SuperblockSize, 2);
        ushort word = BinaryPrimitives.ReadUInt16LittleEndian(header);
        int size = word & 0x7FFF;
        if ((word & SquashFsConstants.MetadataUncompressedBit) == 0 || size == 0 || size > 64)
            throw new SquashFsCorruptException($"compressor options block has header 0x{word:x4} (must be a small, uncompressed block)");
        if (SquashFsConstants.SuperblockSize + 2 + size > (long)sb.InodeTableStart)
            throw new SquashFsCorruptException("compressor options block overlaps the inode table");
        return ReadBytes(source, SquashFsConstants.SuperblockSize + 2, size);
    }

    private static byte[] ReadBytes(ImageSource source, long position, int count)
    {
        var b = new byte[count];
        source.ReadExactly(position, b, "image");
        return b;
    }

    public void Dispose()
    {
        if (_disposed)
            return;
        _disposed = true;
        _decompressors.Dispose();
        _source.Dispose();
    }
}
