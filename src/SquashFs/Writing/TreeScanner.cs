using System.Text;
using Xar.SquashFs.Format;
using Xar.Posix;

namespace Xar.SquashFs.Writing;

/// <summary>
/// Reads the source tree's metadata (statx without following symlinks, readlink, xattrs) into
/// <see cref="SourceInode"/>s. Entries are sorted by raw name bytes, as the format requires, and
/// the walk goes in that order, so the result never depends on the order the directory lists them.
/// Hard links are found by (device, inode).
/// </summary>
internal sealed unsafe class TreeScanner
{
    private const int S_IFMT = 0xF000;
    private const int S_IFDIR = 0x4000, S_IFREG = 0x8000, S_IFLNK = 0xA000, S_IFBLK = 0x6000,
        S_IFCHR = 0x2000, S_IFIFO = 0x1000, S_IFSOCK = 0xC000;

    private readonly SquashFsWriterOptions _options;
    private readonly IdTable _ids;
    private readonly XattrWriter? _xattrs;
    private readonly ExcludeMatcher _excludes;
    private readonly Dictionary<string, int>? _priorities;
    private readonly Dictionary<(uint, uint, ulong), SourceInode> _hardLinks = [];
    private readonly HashSet<(uint, uint, ulong)> _skip = [];
    private readonly HashSet<string> _prioritiesUsed = new(StringComparer.Ordinal);
    private readonly CancellationToken _cancel;
    private byte[] _xattrList = new byte[1024];
    private byte[] _xattrValue = new byte[1024];

    public TreeScanner(SquashFsWriterOptions options, IdTable ids, XattrWriter? xattrs, CancellationToken cancel)
    {
        _options = options;
        _ids = ids;
        _xattrs = xattrs;
        _cancel = cancel;
        _excludes = new ExcludeMatcher(options.Excludes ?? []);
        if (options.SortPriorities is { Count: > 0 } p)
        {
            _priorities = new Dictionary<string, int>(StringComparer.Ordinal);
            foreach (var (path, priority) in p)
                _priorities[path.Trim('/')] = priority;
        }
    }

    /// <summary>
    /// Leaves a file out of the image wherever it appears in the tree: the image being written (and
    /// the file it will replace) when the output goes inside the source directory, as mksquashfs does.
    /// </summary>
    public void SkipFile(in LibC.Statx st) => _skip.Add((st.DevMajor, st.DevMinor, st.Ino));

    /// <summary>Regular-file inodes in the order their data is stored.</summary>
    public List<SourceInode> Files { get; } = [];

    public int InodeCount { get; private set; }

    public long TotalFileBytes { get; private set; }

    public SourceInode Scan(string sourceDirectory)
    {
        // A path string may hold bytes that are not UTF-8 (LosslessUtf8.Decode); the tree is read by the bytes.
        string full = NativePath.FullPath(sourceDirectory);
        byte[] path = LosslessUtf8.Encode(full.Length > 1 ? full.TrimEnd('/') : full);
        var st = StatRoot(path, Display(path));
        // SOURCE_DIR itself may be a symlink to the tree (/opt/app -> app-1.2): pack the tree it names.
        if ((st.Mode & S_IFMT) == S_IFLNK && DirectoryLinkedTo(path) is { } target)
        {
            path = target;
            st = StatRoot(path, Display(path));
        }
        if ((st.Mode & S_IFMT) != S_IFDIR)
            throw new SourceTreeException(LosslessUtf8.Display(sourceDirectory), "not a directory", isBadInput: true);
        var root = MakeInode(-1, [], path, st, path, InodeType.Directory, new SourceDirectory(), null, null);
        InodeCount = 1;
        int fd = OpenRoot(path, st);
        try
        {
            ScanDirectory(ref fd, path, st, [], root.Directory!, _priorities?.GetValueOrDefault("") ?? 0, 0);
        }
        finally
        {
            LibC.Close(fd);
        }
        foreach (var extra in _options.ExtraRootFiles ?? [])
        {
            byte[] name = Encoding.UTF8.GetBytes(extra.Name);
            if (root.Directory!.Entries.Exists(e => e.Name.AsSpan().SequenceEqual(name)))
                throw new SourceTreeException(sourceDirectory, $"already holds an entry named {extra.Name}", isBadInput: true);
            var inode = new SourceInode
            {
                Type = InodeType.File,
                Permissions = (ushort)((uint)extra.Mode & 0xFFF),
                UidIndex = _ids.GetIndex(_options.Uid ?? 0),
                GidIndex = _ids.GetIndex(_options.Gid ?? 0),
                Mtime = _options.FixedModificationTime ?? root.Mtime,
                Size = (ulong)extra.Content.Length,
                Content = extra.Content,
            };
            root.Directory.Entries.Add(new SourceEntry(name, inode));
            root.Directory.Entries.Sort(static (a, b) => a.Name.AsSpan().SequenceCompareTo(b.Name));
            Files.Add(inode);
            TotalFileBytes += extra.Content.Length;
            InodeCount++;
        }
        if (_priorities is not null)
        {
            foreach (string key in _priorities.Keys)
                if (key.Length > 0 && !_prioritiesUsed.Contains(key))
                    _options.Warning?.Invoke($"sort priority for {LosslessUtf8.Display(key)}: no such entry in {LosslessUtf8.Display(sourceDirectory)}");
            // Stable: equal priorities keep the walk order.
            var ordered = Files.Select((f, i) => (f, i)).OrderByDescending(t => t.f.Priority).ThenBy(t => t.i).Select(t => t.f).ToList();
            Files.Clear();
            Files.AddRange(ordered);
        }
        return root;
    }

    /// <summary>
    /// Directory descriptors held open down the walk; below that depth each directory's parent is closed while the
    /// directory is scanned and opened again from it (".."), so a tree of any depth needs only this many.
    /// </summary>
    private const int HeldDirectories = 64;

    /// <summary>
    /// Scans the directory open as <paramref name="fd"/> (whose path is <paramref name="path"/>, for messages and
    /// for reading file data later): every entry is looked at through the descriptor (statx, readlinkat, openat with
    /// O_NOFOLLOW, xattrs through /proc/self/fd), so a directory on the way swapped for a link after it was opened
    /// changes nothing, and the work per entry does not grow with the depth. <paramref name="fd"/> may be replaced by
    /// a descriptor of the same directory (see <see cref="HeldDirectories"/>); the caller closes what it holds.
    /// </summary>
    private void ScanDirectory(ref int fd, byte[] path, in LibC.Statx self, byte[] relative, SourceDirectory directory, int priority, int depth)
    {
        _cancel.ThrowIfCancellationRequested();
        var names = ReadDirectory(fd, path);
        names.Sort(static (a, b) => a.AsSpan().SequenceCompareTo(b));
        foreach (byte[] name in names)
        {
            byte[] childPath = NativePath.Join(path, name);
            // The path from the root, for excludes and sort priorities only (a deep tree would pay for it at every entry).
            byte[] childRelative = _excludes.IsEmpty && _priorities is null ? [] : NativePath.Join(relative, name);
            if (!_excludes.IsEmpty && _excludes.IsExcluded(childRelative, name))
                continue;
            if (name.Length > SquashFsConstants.MaxNameLength)
                throw new SourceTreeException(Display(childPath), $"name is longer than {SquashFsConstants.MaxNameLength} bytes", isBadInput: true);
            byte[] display = childPath; // decoded only for a message
            var st = StatAt(fd, name, display);
            int type = st.Mode & S_IFMT;
            if (type == S_IFREG && _skip.Count > 0 && _skip.Contains((st.DevMajor, st.DevMinor, st.Ino)))
                continue;
            int childPriority = priority;
            if (_priorities is not null && _priorities.TryGetValue(LosslessUtf8.Decode(childRelative), out int p))
            {
                childPriority = p;
                _prioritiesUsed.Add(LosslessUtf8.Decode(childRelative));
            }

            if (type != S_IFDIR && st.Nlink > 1 && _hardLinks.TryGetValue((st.DevMajor, st.DevMinor, st.Ino), out var linked))
            {
                linked.Nlink++;
                directory.Entries.Add(new SourceEntry(name, linked));
                continue;
            }

            SourceInode inode;
            switch (type)
            {
                case S_IFDIR:
                    // Every xar reader stops at this depth: an image xar writes is one all of xar reads.
                    if (depth + 1 > SquashFsConstants.MaxDirectoryDepth)
                        throw new SourceTreeException(Display(display), $"directories nest deeper than {SquashFsConstants.MaxDirectoryDepth} levels (xar's limit, the same for every command)", isBadInput: true);
                    inode = MakeInode(fd, name, childPath, st, display, InodeType.Directory, new SourceDirectory(), null, null);
                    directory.Entries.Add(new SourceEntry(name, inode));
                    InodeCount++;
                    int child = OpenDirectoryAt(fd, name, display, st);
                    bool release = depth + 1 >= HeldDirectories;
                    try
                    {
                        if (release)
                        {
                            LibC.Close(fd);
                            fd = -1;
                        }
                        ScanDirectory(ref child, childPath, st, childRelative, inode.Directory!, childPriority, depth + 1);
                        if (release)
                            fd = OpenParent(child, path, self);
                    }
                    finally
                    {
                        LibC.Close(child);
                    }
                    continue;
                case S_IFREG:
                    inode = MakeInode(fd, name, childPath, st, display, InodeType.File, null, null, null);
                    inode.Priority = childPriority;
                    Files.Add(inode);
                    TotalFileBytes += (long)st.Size;
                    break;
                case S_IFLNK:
                    inode = MakeInode(fd, name, childPath, st, display, InodeType.Symlink, null, ReadLinkAt(fd, name, st, display), null);
                    break;
                case S_IFCHR:
                case S_IFBLK:
                    if (st.RdevMajor > 0xFFF || st.RdevMinor > 0xFFFFF)
                        throw new SourceTreeException(Display(display), $"device number {st.RdevMajor}:{st.RdevMinor} does not fit SquashFS (major < 4096, minor < 1048576)", isBadInput: true);
                    uint dev = EncodeDevice(st.RdevMajor, st.RdevMinor);
                    inode = MakeInode(fd, name, childPath, st, display, type == S_IFCHR ? InodeType.CharDevice : InodeType.BlockDevice, null, null, dev);
                    break;
                case S_IFIFO:
                    inode = MakeInode(fd, name, childPath, st, display, InodeType.Fifo, null, null, null);
                    break;
                case S_IFSOCK:
                    inode = MakeInode(fd, name, childPath, st, display, InodeType.Socket, null, null, null);
                    break;
                default:
                    throw new SourceTreeException(Display(display), $"unknown file type 0{type:o}", isBadInput: true);
            }
            InodeCount++;
            if (st.Nlink > 1)
                _hardLinks.Add((st.DevMajor, st.DevMinor, st.Ino), inode);
            directory.Entries.Add(new SourceEntry(name, inode));
        }
    }

    /// <summary>The kernel's new_encode_dev: minor low byte, 12-bit major, then the minor's upper 12 bits.</summary>
    public static uint EncodeDevice(uint major, uint minor) => (minor & 0xFF) | (major << 8) | ((minor & ~0xFFu) << 12);

    /// <summary>The inode of the entry <paramref name="name"/> of the directory open as <paramref name="directoryFd"/> (-1: <paramref name="path"/> itself, the root).</summary>
    private SourceInode MakeInode(int directoryFd, byte[] name, byte[] path, in LibC.Statx st, byte[] display, InodeType type, SourceDirectory? directory, byte[]? target, uint? device)
    {
        long mtime = _options.FixedModificationTime ?? st.Mtime.Seconds;
        ushort uidIndex, gidIndex;
        try
        {
            uidIndex = _ids.GetIndex(_options.Uid ?? st.Uid);
            gidIndex = _ids.GetIndex(_options.Gid ?? st.Gid);
        }
        catch (InvalidOperationException e)
        {
            throw new SourceTreeException(Display(display), e.Message, isBadInput: true);
        }
        var inode = new SourceInode
        {
            Type = type,
            Permissions = (ushort)(st.Mode & 0xFFF),
            UidIndex = uidIndex,
            GidIndex = gidIndex,
            // SquashFS keeps an unsigned 32-bit time: earlier/later times are clamped to its range.
            Mtime = (uint)Math.Clamp(mtime, 0, uint.MaxValue),
            Size = type == InodeType.File ? st.Size : 0,
            SymlinkTarget = target,
            DeviceNumber = device ?? 0,
            SourcePath = type == InodeType.File ? [.. path, 0] : null,
            SourceSize = st.Size,
            SourceMtimeNanoseconds = st.Mtime.Seconds * 1_000_000_000 + st.Mtime.Nanoseconds,
            SourceIno = st.Ino,
            SourceDevMajor = st.DevMajor,
            SourceDevMinor = st.DevMinor,
            Directory = directory,
        };
        if (_xattrs is not null)
        {
            var set = ReadXattrs(directoryFd, name, path, display);
            if (set.Count > 0)
                inode.XattrIndex = _xattrs.Add(set);
        }
        return inode;
    }


    /// <summary>A path for messages: its UTF-8, <c>\xNN</c> for each byte that is not.</summary>
    private static string Display(byte[] path) => LosslessUtf8.Escape(path);

    /// <summary>
    /// The directory the symbolic link <paramref name="path"/> finally leads to, as the kernel names it (its bytes,
    /// from the descriptor's /proc link); null when it leads to no directory.
    /// </summary>
    private static byte[]? DirectoryLinkedTo(byte[] path)
    {
        int fd;
        using (var longPath = LongPath.For(path))
        fixed (byte* p = longPath.CString)
            fd = LibC.Open(p, LibC.O_PATH | LibC.O_DIRECTORY | LibC.O_CLOEXEC, 0);
        if (fd < 0)
            return null;
        try
        {
            return NativePath.OfDescriptor(fd);
        }
        finally
        {
            LibC.Close(fd);
        }
    }

    /// <summary>statx of an open file, or null when it cannot be had.</summary>
    public static LibC.Statx? StatOpenFile(Stream stream)
    {
        if (stream is not FileStream fs)
            return null;
        LibC.Statx st;
        byte empty = 0;
        return LibC.StatxAt((int)fs.SafeFileHandle.DangerousGetHandle(), &empty, LibC.AT_EMPTY_PATH, LibC.STATX_BASIC_STATS, &st) == 0 ? st : null;
    }

    /// <summary>statx of a path (following nothing), or null when it does not exist.</summary>
    public static LibC.Statx? StatPath(string path)
    {
        LibC.Statx st;
        fixed (byte* p = ZeroTerminated(LosslessUtf8.Encode(path)))
            return LibC.StatxAt(LibC.AT_FDCWD, p, LibC.AT_SYMLINK_NOFOLLOW, LibC.STATX_BASIC_STATS, &st) == 0 ? st : null;
    }

    /// <summary>statx of SOURCE_DIR as given (not following a link there); its absence is the user's mistake.</summary>
    private static LibC.Statx StatRoot(byte[] path, string display)
    {
        LibC.Statx st;
        using var longPath = LongPath.For(path);
        fixed (byte* p = longPath.CString)
        {
            if (LibC.StatxAt(LibC.AT_FDCWD, p, LibC.AT_SYMLINK_NOFOLLOW | LibC.AT_NO_AUTOMOUNT, LibC.STATX_BASIC_STATS, &st) != 0)
            {
                int errno = System.Runtime.InteropServices.Marshal.GetLastPInvokeError();
                throw errno == LibC.ENOENT
                    ? new SourceTreeException(display, "no such directory", isBadInput: true)
                    : new SourceTreeException(display, LibC.Describe(errno), isBadInput: true);
            }
        }
        return st;
    }

    private static byte[] ZeroTerminated(byte[] path) => [.. path, 0];

    /// <summary>The root, opened without following a symbolic link and checked to be the directory the scan saw.</summary>
    private static int OpenRoot(byte[] path, in LibC.Statx expected)
    {
        byte[] display = path;
        using var longPath = LongPath.For(path);
        fixed (byte* p = longPath.CString)
            return Verified(LibC.Open(p, DirectoryFlags, 0), display, expected);
    }

    private const int DirectoryFlags = LibC.O_RDONLY | LibC.O_DIRECTORY | LibC.O_NOFOLLOW | LibC.O_NONBLOCK | LibC.O_CLOEXEC;

    /// <summary>
    /// The subdirectory <paramref name="name"/>, opened through its parent without following a symbolic link and checked
    /// to be the directory the scan saw (a directory swapped for a link or another tree meanwhile is refused, not packed).
    /// </summary>
    private static int OpenDirectoryAt(int parent, byte[] name, byte[] display, in LibC.Statx expected)
    {
        fixed (byte* n = ZeroTerminated(name))
            return Verified(LibC.OpenAt(parent, n, DirectoryFlags, 0), display, expected);
    }

    /// <summary>The parent of the directory open as <paramref name="child"/>, again, checked to be the one it was (not moved meanwhile).</summary>
    private static int OpenParent(int child, byte[] display, in LibC.Statx expected)
    {
        fixed (byte* dotDot = "..\0"u8)
        {
            int fd = LibC.OpenAt(child, dotDot, DirectoryFlags, 0);
            if (fd >= 0 && (LibC.FStatx(fd, out var opened) != 0 || opened.Ino != expected.Ino || opened.DevMajor != expected.DevMajor || opened.DevMinor != expected.DevMinor))
            {
                LibC.Close(fd);
                throw new SourceTreeException(Display(display), "changed while packing: a directory below it was moved elsewhere");
            }
            return fd >= 0 ? fd : throw new SourceTreeException(Display(display), "cannot open directory again: " + LibC.Describe(System.Runtime.InteropServices.Marshal.GetLastPInvokeError()));
        }
    }

    private static int Verified(int fd, byte[] display, in LibC.Statx expected)
    {
        if (fd < 0)
        {
            int errno = System.Runtime.InteropServices.Marshal.GetLastPInvokeError();
            throw errno switch
            {
                LibC.ENOENT => new SourceTreeException(Display(display), "changed while packing: it disappeared"),
                LibC.ENOTDIR or LibC.ELOOP => new SourceTreeException(Display(display), "changed while packing: it is no longer the directory scanned"),
                _ => new SourceTreeException(Display(display), "cannot open directory: " + LibC.Describe(errno)),
            };
        }
        if (LibC.FStatx(fd, out var opened) != 0 || opened.Ino != expected.Ino || opened.DevMajor != expected.DevMajor || opened.DevMinor != expected.DevMinor)
        {
            LibC.Close(fd);
            throw new SourceTreeException(Display(display), "changed while packing: it is now another directory (another inode)");
        }
        return fd;
    }

    /// <summary>statx of the entry <paramref name="name"/> of an open directory, following nothing.</summary>
    private static LibC.Statx StatAt(int directoryFd, byte[] name, byte[] display)
    {
        LibC.Statx st;
        fixed (byte* n = ZeroTerminated(name))
        {
            if (LibC.StatxAt(directoryFd, n, LibC.AT_SYMLINK_NOFOLLOW | LibC.AT_NO_AUTOMOUNT, LibC.STATX_BASIC_STATS, &st) != 0)
            {
                int errno = System.Runtime.InteropServices.Marshal.GetLastPInvokeError();
                throw errno == LibC.ENOENT
                    ? new SourceTreeException(Display(display), "disappeared while the tree was read")
                    : new SourceTreeException(Display(display), LibC.Describe(errno));
            }
        }
        return st;
    }

    /// <summary>The names in the directory open as <paramref name="fd"/> (read through a copy of the descriptor, which stays open).</summary>
    private static List<byte[]> ReadDirectory(int fd, byte[] display)
    {
        var names = new List<byte[]>();
        int copy = LibC.Fcntl(fd, LibC.F_DUPFD_CLOEXEC, 0);
        nint dir = copy < 0 ? 0 : LibC.FdOpenDir(copy);
        if (dir == 0)
        {
            int errno = System.Runtime.InteropServices.Marshal.GetLastPInvokeError();
            if (copy >= 0)
                LibC.Close(copy);
            throw new SourceTreeException(Display(display), "cannot open directory: " + LibC.Describe(errno));
        }
        try
        {
            while (true)
            {
                byte* entry = LibC.ReadDir(dir);
                if (entry == null)
                {
                    int errno = System.Runtime.InteropServices.Marshal.GetLastPInvokeError();
                    if (errno != 0)
                        throw new SourceTreeException(Display(display), "cannot read directory: " + LibC.Describe(errno));
                    break;
                }
                var name = new ReadOnlySpan<byte>(entry + LibC.DirentNameOffset, 256);
                name = name[..name.IndexOf((byte)0)];
                if (name.SequenceEqual("."u8) || name.SequenceEqual(".."u8))
                    continue;
                names.Add(name.ToArray());
            }
        }
        finally
        {
            LibC.CloseDir(dir);
        }
        return names;
    }

    private static byte[] ReadLinkAt(int directoryFd, byte[] name, in LibC.Statx st, byte[] display)
    {
        int size = (int)Math.Max(st.Size, 255) + 1;
        fixed (byte* n = ZeroTerminated(name))
        {
            while (true)
            {
                var buffer = new byte[size];
                nint length;
                fixed (byte* b = buffer)
                    length = LibC.ReadLinkAt(directoryFd, n, b, size);
                if (length < 0)
                    throw new SourceTreeException(Display(display), "cannot read symlink: " + LibC.Describe(System.Runtime.InteropServices.Marshal.GetLastPInvokeError()));
                if (length < size)
                {
                    if (length == 0)
                        throw new SourceTreeException(Display(display), "symlink has an empty target", isBadInput: true);
                    return buffer.AsSpan(0, (int)length).ToArray();
                }
                size *= 2;
            }
        }
    }

    /// <summary>Whether listxattrat and getxattrat work here (Linux 6.13+); until one is refused as unknown.</summary>
    private static bool s_xattrAt = true;

    /// <summary>
    /// The xattrs of the entry <paramref name="name"/> of the directory open as <paramref name="directoryFd"/> (-1: of
    /// <paramref name="path"/>, the root), never following a link: by listxattrat/getxattrat on the descriptor, else by
    /// the l* calls on <c>/proc/self/fd/N/NAME</c> (both name the entry in that very directory).
    /// </summary>
    private List<Xattr> ReadXattrs(int directoryFd, byte[] name, byte[] path, byte[] display)
    {
        var set = new List<Xattr>();
        bool at = directoryFd >= 0 && s_xattrAt;
        using var entry = at ? default : directoryFd < 0 ? LongPath.For(path) : LongPath.InDirectory(directoryFd, name, path);
        fixed (byte* e = at ? ZeroTerminated(name) : null)
        fixed (byte* p = entry.CString)
        {
            const int NoFollow = LibC.AT_SYMLINK_NOFOLLOW;
            nint listLength;
            while (true)
            {
                fixed (byte* l = _xattrList)
                    listLength = at ? LibC.ListXattrAt(directoryFd, e, NoFollow, l, _xattrList.Length) : LibC.LListXattr(p, l, _xattrList.Length);
                if (listLength >= 0)
                    break;
                int errno = System.Runtime.InteropServices.Marshal.GetLastPInvokeError();
                if (at && errno is LibC.ENOSYS or LibC.EPERM)
                {
                    s_xattrAt = false; // an older kernel, or a seccomp filter that does not know the call
                    return ReadXattrs(directoryFd, name, path, display);
                }
                if (errno == LibC.ENOTSUP)
                    return set;
                if (errno != LibC.ERANGE)
                    throw new SourceTreeException(Display(display), "cannot list extended attributes: " + LibC.Describe(errno));
                listLength = at ? LibC.ListXattrAt(directoryFd, e, NoFollow, null, 0) : LibC.LListXattr(p, null, 0);
                _xattrList = new byte[Math.Max(_xattrList.Length * 2, listLength + 1)];
            }
            var list = _xattrList.AsSpan(0, (int)listLength);
            while (!list.IsEmpty)
            {
                int end = list.IndexOf((byte)0);
                if (end < 0)
                    end = list.Length;
                var fullName = list[..end];
                list = end < list.Length ? list[(end + 1)..] : [];
                if (fullName.IsEmpty)
                    continue;
                if (!XattrWriter.TrySplitName(fullName, out ushort prefix, out byte[] rest))
                {
                    _options.Warning?.Invoke($"{Display(display)}: extended attribute {LosslessUtf8.Escape(fullName)} left out (SquashFS holds only user., trusted. and security.)");
                    continue;
                }
                byte[] name0 = [.. fullName, 0];
                byte[]? value = null;
                fixed (byte* n = name0)
                {
                    while (value is null)
                    {
                        nint len;
                        fixed (byte* v = _xattrValue)
                            len = at ? LibC.GetXattrAt(directoryFd, e, NoFollow, n, v, _xattrValue.Length) : LibC.LGetXattr(p, n, v, _xattrValue.Length);
                        if (len >= 0)
                        {
                            value = _xattrValue.AsSpan(0, (int)len).ToArray();
                            break;
                        }
                        int errno = System.Runtime.InteropServices.Marshal.GetLastPInvokeError();
                        if (errno == LibC.ENODATA)
                            break; // removed between list and get
                        if (errno != LibC.ERANGE)
                            throw new SourceTreeException(Display(display), $"cannot read extended attribute {LosslessUtf8.Escape(fullName)}: " + LibC.Describe(errno));
                        len = at ? LibC.GetXattrAt(directoryFd, e, NoFollow, n, null, 0) : LibC.LGetXattr(p, n, null, 0);
                        _xattrValue = new byte[Math.Max(_xattrValue.Length * 2, len + 1)];
                    }
                }
                if (value is not null)
                    set.Add(new Xattr(prefix, rest, value));
            }
        }
        set.Sort(static (a, b) => a.Prefix != b.Prefix ? a.Prefix.CompareTo(b.Prefix) : a.Name.AsSpan().SequenceCompareTo(b.Name));
        return set;
    }
}
