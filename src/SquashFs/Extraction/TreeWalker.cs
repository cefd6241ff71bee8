using Xar.Posix;
using Xar.SquashFs.Format;
using Xar.SquashFs.Reading;

namespace Xar.SquashFs.Extraction;

/// <summary>
/// Walks an image's tree and creates its entries, each relative to its directory's descriptor with
/// O_NOFOLLOW/O_EXCL, so no name in the image can reach outside the directory extracted into.
/// Names that could (".", "..", "", '/', NUL, duplicates) and directories met twice (loops, hard
/// links to directories) are refused, and so is nesting deeper than
/// <see cref="SquashFsConstants.MaxDirectoryDepth"/> (every xar reader's limit; the writer's too).
/// Regular files go to the <see cref="ParallelFileWriter"/>; a directory gets its attributes once
/// its contents are done. Recursive: run it on a large stack (a frame per level).
/// Only the innermost <see cref="OpenDirectories"/> directories stay open: an ancestor closed on
/// the way down is opened again as ".." of its child on the way up (inside the private 0700
/// extraction directory, checked to be the same inode), so depth never runs into the descriptor limit.
/// </summary>
internal sealed unsafe class TreeWalker(SquashFsImage image, int rootFd, bool isRoot, ParallelFileWriter files,
    AttributeRestorer attributes, ExtractionWarnings warnings, Action<SquashFsExtractProgress>? progress, CancellationToken cancel)
{
    internal const int OpenDirectories = 64;

    /// <summary>Per level of the current path: the directory's descriptor (-1 while closed), device and inode.</summary>
    private readonly List<(int Fd, ulong Dev, ulong Ino)> _levels = [];

    /// <summary>The current path from the root, one buffer for the whole walk (per-level copies would grow with the square of the depth).</summary>
    private byte[] _path = new byte[256];
    private int _pathLength;

    private readonly HashSet<ulong> _visitedDirectories = [];
    /// <summary>First path of each hard-linked inode created so far: later names link to it.</summary>
    private readonly Dictionary<ulong, byte[]> _linkSources = [];

    /// <summary>Entries created so far.</summary>
    public long Entries { get; private set; }

    /// <summary>Creates the root's entries (those <paramref name="selection"/> names; all when null) in the root directory.</summary>
    public void Walk(PathSelection? selection)
    {
        _visitedDirectories.Add(image.Root.Inode.Reference.Packed);
        _levels.Add((rootFd, 0, 0)); // never closed: the caller owns it
        ExtractDirectory(image.Root, selection, 0);
    }

    private void ExtractDirectory(SquashFsEntry directory, PathSelection? selection, int depth)
    {
        int start = _pathLength;
        var names = new DuplicateNameCheck();
        foreach (var entry in image.EnumerateDirectory(directory))
        {
            files.ThrowIfFailed();
            cancel.ThrowIfCancellationRequested();
            var name = entry.NameBytes;
            _pathLength = start;
            if (!EntryName.IsSafe(name))
                throw new SquashFsCorruptException($"{DisplayDirectory()}: refusing entry name \"{NativePath.Display(name)}\" (empty, \".\", \"..\", or contains '/' or NUL)");
            if (!names.Add(name, () => image.EnumerateDirectory(directory).Select(e => e.NameBytes)))
                throw new SquashFsCorruptException($"{DisplayDirectory()}: entry \"{NativePath.Display(name)}\" appears twice");
            PathSelection? childSelection = null;
            if (selection is not null && !selection.TryEnter(name, out childSelection))
                continue;
            AppendToPath(name);
            ExtractEntry(entry, _levels[depth].Fd, name, childSelection, depth);
            Entries++;
            progress?.Invoke(new SquashFsExtractProgress(Entries, files.BytesWritten));
        }
        _pathLength = start;
    }

    /// <summary>The current entry's path from the root, as its own array (kept by whoever asks).</summary>
    private byte[] CurrentPath() => _path.AsSpan(0, _pathLength).ToArray();

    private void AppendToPath(byte[] name)
    {
        int needed = _pathLength + 1 + name.Length;
        if (needed > _path.Length)
            Array.Resize(ref _path, Math.Max(needed, _path.Length * 2));
        if (_pathLength > 0)
            _path[_pathLength++] = (byte)'/';
        name.CopyTo(_path, _pathLength);
        _pathLength += name.Length;
    }

    private void ExtractEntry(SquashFsEntry entry, int dirFd, byte[] name, PathSelection? selection, int depth)
    {
        var inode = entry.Inode;
        ulong key = inode.Reference.Packed;
        byte[] cname = NativePath.ToCString(name);
        if (entry.EntryType == SquashFsEntryType.Directory)
        {
            // The path is built only when needed (after the walk below, the buffer holds this directory's path again).
            if (!_visitedDirectories.Add(key))
                throw new SquashFsCorruptException($"{NativePath.Display(CurrentPath())}: directory inode {inode.Reference} is reached twice (a loop or a hard link to a directory)");
            if (depth + 1 > SquashFsConstants.MaxDirectoryDepth)
                throw new SquashFsCorruptException($"{NativePath.Display(CurrentPath())}: directories nest deeper than {SquashFsConstants.MaxDirectoryDepth} levels (xar's limit)");
            int fd;
            fixed (byte* n = cname)
            {
                if (LibC.MkdirAt(dirFd, n, 0x1C0) != 0)
                    throw NativePath.Error("create directory", CurrentPath(), LibC.LastError);
                fd = LibC.OpenAt(dirFd, n, LibC.O_RDONLY | LibC.O_DIRECTORY | LibC.O_NOFOLLOW | LibC.O_CLOEXEC, 0);
                if (fd < 0)
                    throw NativePath.Error("open directory", CurrentPath(), LibC.LastError);
            }
            bool added = false;
            try
            {
                if (LibC.FStatx(fd, out var st) != 0)
                    throw NativePath.Error("stat directory", CurrentPath(), LibC.LastError);
                _levels.Add((fd, (ulong)st.DevMajor << 32 | st.DevMinor, st.Ino));
                added = true;
                // Keep the innermost levels open; the root (level 0) is the caller's.
                int oldest = _levels.Count - 1 - OpenDirectories;
                if (oldest > 0 && _levels[oldest].Fd >= 0)
                {
                    LibC.Close(_levels[oldest].Fd);
                    _levels[oldest] = _levels[oldest] with { Fd = -1 };
                }
                ExtractDirectory(entry, selection, depth + 1);
                fd = _levels[depth + 1].Fd; // opened again if it was closed meanwhile
                if (_levels[depth].Fd < 0)
                    ReopenParent(depth, fd, CurrentPath());
                attributes.Restore(fd, inode, entry, isDirectory: true, CurrentPath());
            }
            finally
            {
                if (added)
                {
                    fd = _levels[depth + 1].Fd;
                    _levels.RemoveAt(depth + 1);
                }
                if (fd >= 0)
                    LibC.Close(fd);
            }
            return;
        }

        byte[] path = CurrentPath();
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

    /// <summary>Opens level <paramref name="depth"/> again as ".." of its child (before the child's mode can forbid the lookup).</summary>
    private void ReopenParent(int depth, int childFd, byte[] childPath)
    {
        int fd;
        fixed (byte* dotDot = "..\0"u8)
            fd = LibC.OpenAt(childFd, dotDot, LibC.O_RDONLY | LibC.O_DIRECTORY | LibC.O_NOFOLLOW | LibC.O_CLOEXEC, 0);
        if (fd < 0)
            throw NativePath.Error("open the directory above", childPath, LibC.LastError);
        var (_, dev, ino) = _levels[depth];
        if (LibC.FStatx(fd, out var st) != 0 || ((ulong)st.DevMajor << 32 | st.DevMinor) != dev || st.Ino != ino)
        {
            LibC.Close(fd);
            throw new IOException($"{NativePath.Display(childPath)}: the directory above it was moved while extracting");
        }
        _levels[depth] = (fd, dev, ino);
    }

    /// <summary>The current directory for messages: "/" for the root (not an empty string before the colon).</summary>
    private string DisplayDirectory() => _pathLength == 0 ? "/" : NativePath.Display(_path.AsSpan(0, _pathLength));
}
