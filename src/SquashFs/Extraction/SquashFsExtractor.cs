using System.Runtime.ExceptionServices;
using System.Text;
using Xar.Posix;

namespace Xar.SquashFs.Extraction;

/// <summary>
/// Writes an image's tree into a new directory: everything is created inside a fresh private
/// directory beside the destination, which is renamed into place only when complete (nothing is
/// left behind on failure). The <see cref="TreeWalker"/> creates the entries, the
/// <see cref="ParallelFileWriter"/> writes file data on a pool of threads, the
/// <see cref="AttributeRestorer"/> sets owners, xattrs, modes and times, and a
/// <see cref="PathSelection"/> limits the walk to the paths asked for.
/// </summary>
internal sealed unsafe class SquashFsExtractor
{
    private readonly SquashFsImage _image;
    private readonly SquashFsExtractOptions _options;
    private readonly bool _isRoot;
    private readonly uint _euid;
    private readonly uint _egid;
    private readonly bool _restoreOwners;
    private readonly int _parallelism;

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
        destination = NativePath.FullPath(destination);
        if (Path.GetFileName(destination).Length == 0)
            throw new IOException($"{LosslessUtf8.Display(destination)}: the destination must name a new directory");
        // By the bytes (a lossless string; .NET's own file calls would change a name that is not UTF-8).
        if (LibC.StatxAt(LibC.AT_FDCWD, destination, LibC.AT_SYMLINK_NOFOLLOW, LibC.STATX_BASIC_STATS, out _) == 0)
            throw new IOException($"{LosslessUtf8.Display(destination)}: already exists");
        string parent = Path.GetDirectoryName(destination)!;
        NativePath.CreateDirectories(parent, 0x1FF);
        string baseName = Path.GetFileName(destination);
        if (baseName.Length > 150)
            baseName = baseName[..150];
        string temp = Path.Combine(parent, $".{baseName}.xar-tmp-{Guid.NewGuid():N}");
        fixed (byte* t = NativePath.ToCString(temp))
            if (LibC.MkdirAt(LibC.AT_FDCWD, t, 0x1C0) != 0)
                throw new IOException($"cannot create {LosslessUtf8.Display(temp)}: {LibC.Describe(LibC.LastError)}");
        bool done = false;
        try
        {
            var selection = PathSelection.Build(_image, _options.Paths);
            byte[] rootPath = LosslessUtf8.Encode(temp);
            int rootFd;
            fixed (byte* p = NativePath.ToCString(rootPath))
                rootFd = LibC.OpenAt(LibC.AT_FDCWD, p, LibC.O_RDONLY | LibC.O_DIRECTORY | LibC.O_NOFOLLOW | LibC.O_CLOEXEC, 0);
            if (rootFd < 0)
                throw NativePath.Error("open", rootPath, LibC.LastError);
            // A setgid parent would hand its group (and the setgid bit) down to everything created
            // here; reset both so new entries start as (euid, egid) and the owner pass can skip
            // entries that already match.
            if (LibC.Fchmod(rootFd, 0x1C0) != 0 || (_restoreOwners && LibC.Fchown(rootFd, _euid, _egid) != 0))
                throw NativePath.Error("prepare", rootPath, LibC.LastError);
            var warnings = new ExtractionWarnings(_options.Warning);
            var attributes = new AttributeRestorer(_image, _restoreOwners, _options.RestoreXattrs, _euid, _egid, rootPath, warnings);
            var cancel = _options.CancellationToken;
            var files = new ParallelFileWriter(_image, attributes, _parallelism, cancel);
            var walk = new TreeWalker(_image, rootFd, _isRoot, files, attributes, warnings, _options.Progress, cancel);
            try
            {
                // Deep trees recurse: give the walk its own large stack.
                Exception? walkError = null;
                var walker = new Thread(() =>
                {
                    try
                    {
                        walk.Walk(selection);
                    }
                    catch (Exception e)
                    {
                        walkError = e;
                    }
                }, 64 * 1024 * 1024);
                walker.Start();
                walker.Join();
                files.Finish();
                // A worker's error first: the walk's own error is then only "extraction stopped".
                files.ThrowIfFailed();
                if (walkError is not null)
                    ExceptionDispatchInfo.Throw(walkError);
                cancel.ThrowIfCancellationRequested(); // workers may have dropped data after the walk ended

                // Hard links made later may pass through a directory without search permission.
                attributes.RestoreDeferredModes(rootFd);
                // The root's own attributes go on the temporary directory, then it becomes the target.
                attributes.Restore(rootFd, _image.Root.Inode, _image.Root, isDirectory: true, []);
            }
            finally
            {
                files.Finish();
                LibC.Close(rootFd);
            }
            Rename(temp, destination);
            done = true;
            _options.Progress?.Invoke(new SquashFsExtractProgress(walk.Entries, files.BytesWritten));
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
                throw new IOException($"{LosslessUtf8.Display(to)}: already exists");
            throw new IOException($"cannot rename {LosslessUtf8.Display(from)} to {LosslessUtf8.Display(to)}: {LibC.Describe(errno)}");
        }
    }
}
