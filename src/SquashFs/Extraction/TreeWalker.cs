using Xar.Posix;
using Xar.SquashFs.Format;

namespace Xar.SquashFs.Extraction;

/// <summary>
/// Walks an image's tree and creates its entries, each relative to its directory's descriptor with
/// O_NOFOLLOW/O_EXCL, so no name in the image can reach outside the directory extracted into.
/// Names that could (".", "..", "", '/', NUL, duplicates) and directories met twice (loops, hard
/// links to directories) are refused. Regular files go to the <see cref="ParallelFileWriter"/>;
/// a directory gets its attributes once its contents are done. Recursive: run it on a large stack.
/// </summary>
internal sealed unsafe class TreeWalker(SquashFsImage image, int rootFd, bool isRoot, ParallelFileWriter files,
    AttributeRestorer attributes, ExtractionWarnings warnings, Action<SquashFsExtractProgress>? progress)
{
    private const int MaxDepth = 1000;

    private readonly HashSet<ulong> _visitedDirectories = [];
    /// <summary>First path of each hard-linked inode created so far: later names link to it.</summary>
    private readonly Dictionary<ulong, byte[]> _linkSources = [];

    /// <summary>Entries created so far.</summary>
    public long Entries { get; private set; }

    /// <summary>Creates the root's entries (those <paramref name="selection"/> names; all when null) in the root directory.</summary>
    public void Walk(PathSelection? selection)
    {
        _visitedDirectories.Add(image.Root.Inode.Reference.Packed);
        ExtractDirectory(image.Root, rootFd, [], selection, 0);
    }

    private void ExtractDirectory(SquashFsEntry directory, int dirFd, byte[] relPath, PathSelection? selection, int depth)
    {
        if (depth > MaxDepth)
            throw new SquashFsCorruptException($"{NativePath.Display(relPath)}: directories nest deeper than {MaxDepth} levels");
        var seen = new HashSet<byte[]>(ByteArrayComparer.Instance);
        foreach (var entry in image.EnumerateDirectory(directory))
        {
            files.ThrowIfFailed();
            var name = entry.NameBytes;
            if (!EntryName.IsSafe(name))
                throw new SquashFsCorruptException($"{DisplayDirectory(relPath)}: refusing entry name \"{NativePath.Display(name)}\" (empty, \".\", \"..\", or contains '/' or NUL)");
            if (!seen.Add(name))
                throw new SquashFsCorruptException($"{DisplayDirectory(relPath)}: entry \"{NativePath.Display(name)}\" appears twice");
            PathSelection? childSelection = null;
            if (selection is not null && !selection.TryEnter(name, out childSelection))
                continue;
            byte[] childPath = NativePath.Join(relPath, name);
            ExtractEntry(entry, dirFd, childPath, name, childSelection, depth);
            Entries++;
            progress?.Invoke(new SquashFsExtractProgress(Entries, files.BytesWritten));
        }
    }

    private void ExtractEntry(SquashFsEntry entry, int dirFd, byte[] path, byte[] name, PathSelection? selection, int depth)
    {
        var inode = entry.Inode;
        ulong key = inode.Reference.Packed;
        byte[] cname = NativePath.ToCString(name);
        if (entry.EntryType == SquashFsEntryType.Directory)
        {
            if (!_visitedDirectories.Add(key))
                throw new SquashFsCorruptException($"{NativePath.Display(path)}: directory inode {inode.Reference} is reached twice (a loop or a hard link to a directory)");
            int fd;
            fixed (byte* n = cname)
            {
                if (LibC.MkdirAt(dirFd, n, 0x1C0) != 0)
                    throw NativePath.Error("create directory", path, LibC.LastError);
                fd = LibC.OpenAt(dirFd, n, LibC.O_RDONLY | LibC.O_DIRECTORY | LibC.O_NOFOLLOW | LibC.O_CLOEXEC, 0);
                if (fd < 0)
                    throw NativePath.Error("open directory", path, LibC.LastError);
            }
            try
            {
                ExtractDirectory(entry, fd, path, selection, depth + 1);
                attributes.Restore(fd, inode, entry, isDirectory: true, path);
            }
            finally
            {
                LibC.Close(fd);
            }
            return;
        }

        if (inode.Nlink > 1)
        {
            if (_linkSources.TryGetValue(key, out var source))
            {
                using var from = LongPath.For(source, rootFd);
                fixed (byte* s = from.CString)
                fixed (byte* n = cname)
                    if (LibC.LinkAt(from.DirectoryFd, s, dirFd, n, 0) != 0)
                        throw NativePath.Error("create hard link", path, LibC.LastError);
                return;
            }
            _linkSources[key] = path;
        }

        switch (entry.EntryType)
        {
            case SquashFsEntryType.RegularFile:
                files.Add(entry, dirFd, cname, path);
                break;
            case SquashFsEntryType.SymbolicLink:
                fixed (byte* t = NativePath.ToCString(inode.SymlinkTarget))
                fixed (byte* n = cname)
                    if (LibC.SymlinkAt(t, dirFd, n) != 0)
                        throw NativePath.Error("create symlink", path, LibC.LastError);
                attributes.RestoreAt(dirFd, cname, inode, entry, path, isSymlink: true);
                break;
            default:
            {
                uint type = entry.EntryType switch
                {
                    SquashFsEntryType.BlockDevice => LibC.S_IFBLK,
                    SquashFsEntryType.CharacterDevice => LibC.S_IFCHR,
                    SquashFsEntryType.Fifo => LibC.S_IFIFO,
                    _ => LibC.S_IFSOCK,
                };
                bool device = type is LibC.S_IFBLK or LibC.S_IFCHR;
                if (device && !isRoot)
                {
                    warnings.Warn("devices", $"{NativePath.Display(path)}: device node not created (needs root)");
                    _linkSources.Remove(key);
                    return;
                }
                ulong dev = device ? LibC.MakeDev(inode.DeviceMajor, inode.DeviceMinor) : 0;
                fixed (byte* n = cname)
                    if (LibC.MknodAt(dirFd, n, type | 0x180, dev) != 0)
                        throw NativePath.Error("create", path, LibC.LastError);
                attributes.RestoreAt(dirFd, cname, inode, entry, path, isSymlink: false);
                break;
            }
        }
    }

    /// <summary>A directory for messages: "/" for the root (not an empty string before the colon).</summary>
    private static string DisplayDirectory(byte[] relPath) => relPath.Length == 0 ? "/" : NativePath.Display(relPath);
}
