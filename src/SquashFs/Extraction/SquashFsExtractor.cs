using System.Text;
using Xar.SquashFs.Format;
using Xar.Posix;
using Xar.SquashFs.Reading;

namespace Xar.SquashFs.Extraction;

/// <summary>
/// Writes an image's tree into a new directory. Everything is created relative to directory
/// descriptors with O_NOFOLLOW/O_EXCL inside a fresh private directory, so no name in the image
/// can reach outside it; names that could (".", "..", "", '/', duplicates) and directories met
/// twice (loops, hard links to directories) are refused. File data is decoded and written by a
/// pool of threads; attributes of a directory are set after its contents (mtimes last).
/// </summary>
internal sealed unsafe class SquashFsExtractor
{
    private const int MaxDepth = 1000;
    /// <summary>Blocks per work item: big files are written by several threads at once.</summary>
    private const int BlocksPerChunk = 32;

    private readonly SquashFsImage _image;
    private readonly SquashFsExtractOptions _options;
    private readonly bool _isRoot;
    private readonly uint _euid;
    private readonly uint _egid;
    private readonly bool _restoreOwners;
    private readonly int _parallelism;
    private readonly HashSet<ulong> _visitedDirectories = [];
    private readonly Dictionary<ulong, byte[]> _linkSources = [];
    private readonly HashSet<string> _warned = [];
    /// <summary>Directories whose mode lacks owner rwx, children first: their real mode is set last.</summary>
    private readonly List<(byte[] Path, uint Mode)> _restrictedDirectories = [];
    private byte[] _rootPath = [];
    private int _rootFd = -1;
    private long _entries;
    private long _bytes;

    private WorkQueue<List<Chunk>>? _queue;
    /// <summary>Chunks handed to the workers together: one hand-off per file costs more than a small file's work.</summary>
    private List<Chunk> _batch = [];
    private long _batchBytes;
    private const int BatchFiles = 48;
    private const long BatchBytes = 2 << 20;
    private Thread[] _workers = [];
    private Exception? _workerErrorField;

    private Exception? _workerError => Volatile.Read(ref _workerErrorField);

    public SquashFsExtractor(SquashFsImage image, SquashFsExtractOptions? options)
    {
        _image = image;
        _options = options ?? new SquashFsExtractOptions();
        _euid = LibC.GetEuid();
        _egid = LibC.GetEgid();
        _isRoot = _euid == 0;
        _restoreOwners = _options.RestoreOwners && _isRoot;
        _parallelism = _options.MaxDegreeOfParallelism > 0 ? _options.MaxDegreeOfParallelism : Environment.ProcessorCount;
    }

    public void Extract(string destination)
    {
        destination = Path.GetFullPath(destination);
        if (Path.GetFileName(destination).Length == 0)
            throw new IOException($"{destination}: the destination must name a new directory");
        if (Path.Exists(destination))
            throw new IOException($"{destination}: already exists");
        string parent = Path.GetDirectoryName(destination)!;
        Directory.CreateDirectory(parent);
        string baseName = Path.GetFileName(destination);
        if (baseName.Length > 150)
            baseName = baseName[..150];
        string temp = Path.Combine(parent, $".{baseName}.xar-tmp-{Guid.NewGuid():N}");
        fixed (byte* t = NativePath.ToCString(temp))
            if (LibC.MkdirAt(LibC.AT_FDCWD, t, 0x1C0) != 0)
                throw new IOException($"cannot create {temp}: {LibC.Describe(LibC.LastError)}");
        bool done = false;
        try
        {
            var selection = Selection.Build(_image, _options.Paths);
            _rootPath = Encoding.UTF8.GetBytes(temp);
            fixed (byte* p = NativePath.ToCString(_rootPath))
                _rootFd = LibC.OpenAt(LibC.AT_FDCWD, p, LibC.O_RDONLY | LibC.O_DIRECTORY | LibC.O_NOFOLLOW | LibC.O_CLOEXEC, 0);
            if (_rootFd < 0)
                throw NativePath.Error("open", _rootPath, LibC.LastError);
            // A setgid parent would hand its group (and the setgid bit) down to everything created
            // here; reset both so new entries start as (euid, egid) and the owner pass can skip
            // entries that already match.
            if (LibC.Fchmod(_rootFd, 0x1C0) != 0 || (_restoreOwners && LibC.Fchown(_rootFd, _euid, _egid) != 0))
                throw NativePath.Error("prepare", _rootPath, LibC.LastError);
            StartWorkers();
            try
            {
                // Deep trees recurse: give the walk its own large stack.
                Exception? walkError = null;
                var walker = new Thread(() =>
                {
                    try
                    {
                        _visitedDirectories.Add(_image.Root.Inode.Reference.Packed);
                        ExtractDirectory(_image.Root, _rootFd, [], selection, 0);
                    }
                    catch (Exception e)
                    {
                        walkError = e;
                    }
                }, 64 * 1024 * 1024);
                walker.Start();
                walker.Join();
                StopWorkers();
                // A worker's error first: the walk's own error is then only "extraction stopped".
                if (_workerError is not null)
                    System.Runtime.ExceptionServices.ExceptionDispatchInfo.Throw(_workerError);
                if (walkError is not null)
                    System.Runtime.ExceptionServices.ExceptionDispatchInfo.Throw(walkError);
                // Hard links made later may pass through a directory without search permission.
                foreach (var (path, mode) in _restrictedDirectories)
                    fixed (byte* p = NativePath.ToCString(path))
                        if (LibC.FchmodAt(_rootFd, p, mode, 0) != 0)
                            throw NativePath.Error("set the mode of", path, LibC.LastError);
                // The root's own attributes go on the temporary directory, then it becomes the target.
                SetAttributes(_rootFd, _image.Root.Inode, _image.Root, isDirectory: true, []);
            }
            finally
            {
                StopWorkers();
                LibC.Close(_rootFd);
                _rootFd = -1;
            }
            Rename(temp, destination);
            done = true;
            _options.Progress?.Invoke(new SquashFsExtractProgress(_entries, Interlocked.Read(ref _bytes)));
        }
        finally
        {
            if (!done)
                TreeRemover.Remove(temp);
        }
    }

    private static void Rename(string from, string to)
    {
        fixed (byte* f = NativePath.ToCString(from))
        fixed (byte* t = NativePath.ToCString(to))
        {
            if (LibC.RenameAt2(LibC.AT_FDCWD, f, LibC.AT_FDCWD, t, LibC.RENAME_NOREPLACE) == 0)
                return;
            int errno = LibC.LastError;
            if (errno == LibC.EEXIST)
                throw new IOException($"{to}: already exists");
            throw new IOException($"cannot rename {from} to {to}: {LibC.Describe(errno)}");
        }
    }

    private void ExtractDirectory(SquashFsEntry directory, int dirFd, byte[] relPath, Selection? selection, int depth)
    {
        if (depth > MaxDepth)
            throw new SquashFsCorruptException($"{NativePath.Display(relPath)}: directories nest deeper than {MaxDepth} levels");
        var seen = new HashSet<byte[]>(ByteArrayComparer.Instance);
        foreach (var entry in _image.EnumerateDirectory(directory))
        {
            ThrowIfWorkerFailed();
            var name = entry.NameBytes;
            if (!IsSafeName(name))
                throw new SquashFsCorruptException($"{DisplayDirectory(relPath)}: refusing entry name \"{NativePath.Display(name)}\" (empty, \".\", \"..\", or contains '/' or NUL)");
            if (!seen.Add(name))
                throw new SquashFsCorruptException($"{DisplayDirectory(relPath)}: entry \"{NativePath.Display(name)}\" appears twice");
            Selection? childSelection = null;
            if (selection is not null)
            {
                if (!selection.Children.TryGetValue(name, out childSelection))
                    continue;
                if (childSelection.Whole)
                    childSelection = null;
            }
            byte[] childPath = NativePath.Join(relPath, name);
            ExtractEntry(entry, dirFd, childPath, name, childSelection, depth);
            _entries++;
            _options.Progress?.Invoke(new SquashFsExtractProgress(_entries, Interlocked.Read(ref _bytes)));
        }
    }

    private void ExtractEntry(SquashFsEntry entry, int dirFd, byte[] path, byte[] name, Selection? selection, int depth)
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
                SetAttributes(fd, inode, entry, isDirectory: true, path);
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
                using var from = LongPath.For(source, _rootFd);
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
                ExtractFile(entry, dirFd, cname, path);
                break;
            case SquashFsEntryType.SymbolicLink:
                fixed (byte* t = NativePath.ToCString(inode.SymlinkTarget))
                fixed (byte* n = cname)
                    if (LibC.SymlinkAt(t, dirFd, n) != 0)
                        throw NativePath.Error("create symlink", path, LibC.LastError);
                SetAttributesAt(dirFd, cname, inode, entry, path, isSymlink: true);
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
                if (device && !_isRoot)
                {
                    Warn("devices", $"{NativePath.Display(path)}: device node not created (needs root)");
                    _linkSources.Remove(key);
                    return;
                }
                ulong dev = device ? LibC.MakeDev(inode.DeviceMajor, inode.DeviceMinor) : 0;
                fixed (byte* n = cname)
                    if (LibC.MknodAt(dirFd, n, type | 0x180, dev) != 0)
                        throw NativePath.Error("create", path, LibC.LastError);
                SetAttributesAt(dirFd, cname, inode, entry, path, isSymlink: false);
                break;
            }
        }
    }

    private void ExtractFile(SquashFsEntry entry, int dirFd, byte[] cname, byte[] path)
    {
        var layout = _image.GetLayout(entry.Inode);
        int fd;
        fixed (byte* n = cname)
            fd = LibC.OpenAt(dirFd, n, LibC.O_WRONLY | LibC.O_CREAT | LibC.O_EXCL | LibC.O_NOFOLLOW | LibC.O_CLOEXEC, 0x180);
        if (fd < 0)
            throw NativePath.Error("create file", path, LibC.LastError);
        var job = new FileJob(fd, layout, entry, path);
        try
        {
            // A sparse block is simply never written; only a hole at the very end needs the size set.
            bool endsInHole = layout.TailLength == 0 && layout.BlockCount > 0 && layout.IsSparse(layout.BlockCount - 1);
            if (endsInHole && LibC.Ftruncate(fd, layout.Length) != 0)
                throw NativePath.Error("set the size of", path, LibC.LastError);
        }
        catch
        {
            LibC.Close(fd);
            throw;
        }
        int blocks = layout.BlockCount;
        int chunks = Math.Max(1, (blocks + BlocksPerChunk - 1) / BlocksPerChunk + (layout.TailLength > 0 ? 1 : 0));
        if (blocks == 0 && layout.TailLength == 0)
            chunks = 1;
        job.Remaining = chunks;
        var items = new List<Chunk>(chunks);
        for (int b = 0; b < blocks; b += BlocksPerChunk)
            items.Add(new Chunk(job, b, Math.Min(BlocksPerChunk, blocks - b), false));
        if (layout.TailLength > 0)
            items.Add(new Chunk(job, 0, 0, true));
        if (items.Count == 0)
            items.Add(new Chunk(job, 0, 0, false));
        if (_queue is null)
        {
            for (int i = 0; i < items.Count; i++)
            {
                try
                {
                    RunChunk(items[i], null);
                }
                catch
                {
                    for (int j = i + 1; j < items.Count; j++)
                        Abandon(job);
                    throw;
                }
            }
            return;
        }
        foreach (var c in items)
        {
            _batch.Add(c);
            _batchBytes += c.Tail ? layout.TailLength : (long)c.BlockCount * layout.BlockSize;
        }
        if (_batch.Count >= BatchFiles || _batchBytes >= BatchBytes)
            FlushBatch();
    }

    private sealed class FileJob(int fd, FileLayout layout, SquashFsEntry entry, byte[] path)
    {
        public int Fd = fd;
        public FileLayout Layout { get; } = layout;
        public SquashFsEntry Entry { get; } = entry;
        public byte[] Path { get; } = path;
        public int Remaining;
        public volatile bool Failed;
    }

    private readonly record struct Chunk(FileJob Job, int FirstBlock, int BlockCount, bool Tail);

    private void StartWorkers()
    {
        if (_parallelism <= 1)
            return;
        _queue = new WorkQueue<List<Chunk>>(_parallelism * 2);
        _workers = new Thread[_parallelism];
        for (int i = 0; i < _workers.Length; i++)
        {
            _workers[i] = new Thread(WorkerLoop) { IsBackground = true, Name = "xar-extract" };
            _workers[i].Start();
        }
    }

    private void FlushBatch()
    {
        if (_queue is null || _batch.Count == 0)
            return;
        _queue.Add(_batch);
        _batch = [];
        _batchBytes = 0;
    }

    private void StopWorkers()
    {
        if (_queue is null)
            return;
        if (_workerError is null)
            FlushBatch();
        else
            foreach (var c in _batch)
                Abandon(c.Job);
        _batch = [];
        _queue.Complete();
        foreach (var w in _workers)
            w.Join();
        _queue = null;
    }

    private void WorkerLoop()
    {
        byte[] buffer = new byte[_image.Data.BlockSize];
        var queue = _queue!;
        while (queue.TryTake(out var batch))
        {
            foreach (var chunk in batch)
            {
                if (_workerError is not null)
                {
                    Abandon(chunk.Job);
                    continue;
                }
                try
                {
                    RunChunk(chunk, buffer);
                }
                catch (Exception e)
                {
                    Interlocked.CompareExchange(ref _workerErrorField, e, null);
                }
            }
        }
    }

    private static void Abandon(FileJob job)
    {
        job.Failed = true;
        if (Interlocked.Decrement(ref job.Remaining) == 0)
            LibC.Close(Interlocked.Exchange(ref job.Fd, -1));
    }

    private void ThrowIfWorkerFailed()
    {
        // The worker's own exception, so a corrupt block stays "bad input" and an I/O error stays one.
        if (_workerError is { } e)
            System.Runtime.ExceptionServices.ExceptionDispatchInfo.Throw(e);
    }

    private void RunChunk(Chunk chunk, byte[]? buffer)
    {
        var job = chunk.Job;
        var layout = job.Layout;
        buffer ??= new byte[_image.Data.BlockSize];
        try
        {
            if (chunk.Tail)
            {
                layout.ReadTail(_image.Data, buffer);
                Write(job, buffer.AsSpan(0, layout.TailLength), layout.TailOffset);
            }
            for (int i = chunk.FirstBlock; i < chunk.FirstBlock + chunk.BlockCount; i++)
            {
                if (layout.IsSparse(i))
                    continue;
                layout.ReadBlock(_image.Data, i, buffer);
                Write(job, buffer.AsSpan(0, layout.BlockLength(i)), (long)i * layout.BlockSize);
            }
        }
        catch
        {
            Abandon(job);
            throw;
        }
        if (Interlocked.Decrement(ref job.Remaining) == 0)
        {
            try
            {
                if (!job.Failed)
                    SetAttributes(job.Fd, layout.Inode, job.Entry, isDirectory: false, job.Path);
            }
            finally
            {
                LibC.Close(Interlocked.Exchange(ref job.Fd, -1));
            }
        }
    }

    private void Write(FileJob job, ReadOnlySpan<byte> data, long offset)
    {
        fixed (byte* p = data)
        {
            int done = 0;
            while (done < data.Length)
            {
                nint n = LibC.Pwrite(job.Fd, p + done, (nuint)(data.Length - done), offset + done);
                if (n < 0)
                {
                    int errno = LibC.LastError;
                    if (errno == LibC.EINTR)
                        continue;
                    throw NativePath.Error("write", job.Path, errno);
                }
                done += (int)n;
            }
        }
        Interlocked.Add(ref _bytes, data.Length);
    }

    /// <summary>Owner, xattrs, mode, then times, through a descriptor (regular files and directories).</summary>
    private void SetAttributes(int fd, Inode inode, SquashFsEntry entry, bool isDirectory, byte[] path)
    {
        if (_restoreOwners && (entry.Uid != _euid || entry.Gid != _egid) && LibC.Fchown(fd, entry.Uid, entry.Gid) != 0)
            throw NativePath.Error("set the owner of", path, LibC.LastError);
        if (_options.RestoreXattrs && inode.HasXattrs)
            foreach (var x in _image.GetXattrs(entry))
                fixed (byte* n = NativePath.ToCString(x.NameBytes))
                fixed (byte* v = x.Value)
                    if (LibC.Fsetxattr(fd, n, v, (nuint)x.Value.Length, 0) != 0)
                        XattrFailed(x, path, LibC.LastError);
        uint mode = Mode(inode);
        if (isDirectory && path.Length > 0 && (mode & 0x1C0) != 0x1C0)
        {
            _restrictedDirectories.Add((path, mode));
            mode |= 0x1C0;
        }
        if (LibC.Fchmod(fd, mode) != 0)
            throw NativePath.Error("set the mode of", path, LibC.LastError);
        var times = stackalloc LibC.Timespec[2];
        times[0].Seconds = times[1].Seconds = inode.Mtime;
        if (LibC.Futimens(fd, times) != 0)
            throw NativePath.Error("set the time of", path, LibC.LastError);
    }

    /// <summary>The same for symlinks and special files, by name in their directory, never following a link.</summary>
    private void SetAttributesAt(int dirFd, byte[] cname, Inode inode, SquashFsEntry entry, byte[] path, bool isSymlink)
    {
        fixed (byte* n = cname)
        {
            if (_restoreOwners && (entry.Uid != _euid || entry.Gid != _egid) && LibC.FchownAt(dirFd, n, entry.Uid, entry.Gid, LibC.AT_SYMLINK_NOFOLLOW) != 0)
                throw NativePath.Error("set the owner of", path, LibC.LastError);
            if (_options.RestoreXattrs && inode.HasXattrs)
            {
                // No fd-relative lsetxattr exists; every directory on this path is one we created.
                using var full = LongPath.For(NativePath.Join(_rootPath, path));
                fixed (byte* f = full.CString)
                    foreach (var x in _image.GetXattrs(entry))
                        fixed (byte* xn = NativePath.ToCString(x.NameBytes))
                        fixed (byte* v = x.Value)
                            if (LibC.Lsetxattr(f, xn, v, (nuint)x.Value.Length, 0) != 0)
                                XattrFailed(x, path, LibC.LastError);
            }
            if (!isSymlink && LibC.FchmodAt(dirFd, n, Mode(inode), 0) != 0)
                throw NativePath.Error("set the mode of", path, LibC.LastError);
            var times = stackalloc LibC.Timespec[2];
            times[0].Seconds = times[1].Seconds = inode.Mtime;
            if (LibC.UtimensAt(dirFd, n, times, LibC.AT_SYMLINK_NOFOLLOW) != 0)
                throw NativePath.Error("set the time of", path, LibC.LastError);
        }
    }

    // As unsquashfs: setuid/setgid only when the owner is restored too (as root); sticky always.
    private uint Mode(Inode inode) => _isRoot && _options.RestoreOwners ? inode.Permissions & 0xFFFu : inode.Permissions & 0x3FFu;

    private void XattrFailed(SquashFsXattr x, byte[] path, int errno)
    {
        if (errno is LibC.EPERM or LibC.ENOTSUP or 13 /* EACCES */)
        {
            Warn("xattr:" + x.Name, $"{NativePath.Display(path)}: xattr {x.Name} not restored: {LibC.Describe(errno)}");
            return;
        }
        throw NativePath.Error($"set xattr {x.Name} on", path, errno);
    }

    private void Warn(string kind, string message)
    {
        if (_options.Warning is null)
            return;
        lock (_warned)
            if (!_warned.Add(kind))
                return;
        _options.Warning(message);
    }

    /// <summary>A directory for messages: "/" for the root (not an empty string before the colon).</summary>
    private static string DisplayDirectory(byte[] relPath) => relPath.Length == 0 ? "/" : NativePath.Display(relPath);

    internal static bool IsSafeName(ReadOnlySpan<byte> name) =>
        name.Length > 0 && !name.SequenceEqual("."u8) && !name.SequenceEqual(".."u8)
        && name.IndexOfAny((byte)'/', (byte)0) < 0;


    /// <summary>The paths asked for, as a tree of names; a node marked Whole takes everything below it.</summary>
    private sealed class Selection
    {
        public Dictionary<byte[], Selection> Children { get; } = new(ByteArrayComparer.Instance);
        public bool Whole { get; set; }

        public static Selection? Build(SquashFsImage image, IReadOnlyList<string>? paths)
        {
            if (paths is null || paths.Count == 0)
                return null;
            var root = new Selection();
            foreach (var path in paths)
            {
                var parts = path.Split('/', StringSplitOptions.RemoveEmptyEntries);
                if (parts.Any(p => p is "." or ".."))
                    throw new ArgumentException($"{path}: paths to extract may not contain \".\" or \"..\"");
                if (image.GetEntry(path, followSymlinks: false) is null)
                    throw new FileNotFoundException($"{path}: not found in the image (symlinks are not followed)", path);
                var node = root;
                if (parts.Length == 0)
                    return null;
                foreach (var part in parts)
                {
                    var key = Encoding.UTF8.GetBytes(part);
                    if (!node.Children.TryGetValue(key, out var next))
                        node.Children[key] = next = new Selection();
                    node = next;
                }
                node.Whole = true;
            }
            return root;
        }
    }
}

internal sealed class ByteArrayComparer : IEqualityComparer<byte[]>
{
    public static readonly ByteArrayComparer Instance = new();

    public bool Equals(byte[]? x, byte[]? y) => x.AsSpan().SequenceEqual(y);

    public int GetHashCode(byte[] obj)
    {
        var h = new HashCode();
        h.AddBytes(obj);
        return h.ToHashCode();
    }
}
