using System.Text;
using Xar.SquashFs;
using static Xar.Posix.LibC;

namespace Xar.Runtime.Fuse;

/// <summary>How a <see cref="FuseServer"/> mounts and serves.</summary>
public sealed record FuseServerOptions
{
    public FuseAccess Access { get; init; } = FuseAccess.Owner;

    /// <summary>What /proc/mounts shows as the mounted thing (the image's path); "xar" when not given.</summary>
    public string? Source { get; init; }

    /// <summary>Threads reading /dev/fuse; 0 = the machine's cores, at least 2.</summary>
    public int Threads { get; init; }

    /// <summary>Decoded data and fragment blocks kept in memory, in bytes.</summary>
    public long BlockCacheBytes { get; init; } = 16 << 20;

    /// <summary>The fusermount the server's pre-runtime step started for this mount, if it did.</summary>
    internal EarlyFusermount? EarlyFusermount { get; init; }
}

/// <summary>
/// A FUSE file system server for one SquashFS image, speaking the kernel's protocol on /dev/fuse
/// itself (no libfuse, no squashfuse). <see cref="Mount"/> mounts it, <see cref="Start"/> starts
/// the threads that serve it; they stop when the file system is unmounted, whoever unmounts it.
/// It shows what the kernel's squashfs driver would show of the same image.
/// </summary>
public sealed unsafe class FuseServer : IDisposable
{
    private readonly ImageFileSystem _fs;
    private readonly FuseDispatcher _dispatcher;
    private readonly int _device;
    private readonly Thread[] _threads;
    private readonly FuseWorker[] _workers;
    private readonly FragmentPrefetcher _prefetcher;
    private readonly ManualResetEventSlim _initialized = new();
    private readonly CountdownEvent _running;
    private string? _initFailure;
    private bool _disposed;

    private FuseServer(ImageFileSystem fs, int device, byte[] mountPath, FuseServerOptions options)
    {
        _fs = fs;
        _device = device;
        MountPoint = Encoding.UTF8.GetString(mountPath);
        _mount = new OwnMount(mountPath); // which mount is ours, learnt now, while nothing else can have been mounted there since
        _dispatcher = new FuseDispatcher(fs, GetEuid(), options.Access == FuseAccess.OwnerAndRoot);
        _dispatcher.Initialized += () => _initialized.Set();
        _dispatcher.InitFailed += reason =>
        {
            _initFailure = reason;
            _initialized.Set();
        };
        int count = options.Threads > 0 ? options.Threads : Math.Max(2, Environment.ProcessorCount);
        _prefetcher = new FragmentPrefetcher(device, fs, _dispatcher.Nodes, count);
        _dispatcher.Prefetcher = _prefetcher;
        _workers = new FuseWorker[count];
        _threads = new Thread[count];
        _running = new CountdownEvent(count);
        for (int i = 0; i < count; i++)
        {
            var worker = _workers[i] = new FuseWorker(device, _dispatcher, fs.BlockSize);
            _threads[i] = new Thread(() => RunWorker(worker)) { IsBackground = true, Name = "fuse " + i };
        }
    }

    /// <summary>The absolute path the image is mounted on (decoded as UTF-8; the server itself works from its bytes).</summary>
    public string MountPoint { get; }

    private readonly OwnMount _mount;

    /// <summary>The device number of the mounted file system (st_dev of the mount point), from right after the mount.</summary>
    public (uint Major, uint Minor)? Device => _mount.Device;

    /// <summary>Environment.TickCount64 of the last request (not counting FORGET and INTERRUPT).</summary>
    public long LastActivity => _dispatcher.LastActivity;

    /// <summary>Files open through the mount right now.</summary>
    public int OpenFiles => _dispatcher.Files.OpenCount;

    /// <summary>Nodes the kernel holds (looked up and not yet forgotten), the root not counted.</summary>
    public int KnownNodes => _dispatcher.Nodes.Count;

    /// <summary>Why a serving thread stopped other than by an unmount, if one did.</summary>
    public string? Failure { get; private set; }

    /// <summary>
    /// Mounts <paramref name="image"/> (which the server owns from now on, and disposes) read-only
    /// on <paramref name="mountPoint"/>. The file system answers once <see cref="Start"/> runs.
    /// </summary>
    /// <exception cref="FuseUnavailableException">FUSE cannot mount here.</exception>
    public static FuseServer Mount(SquashFsImage image, string mountPoint, FuseServerOptions? options = null)
    {
        ArgumentNullException.ThrowIfNull(mountPoint);
        return Mount(image, Encoding.UTF8.GetBytes(Path.GetFullPath(mountPoint)), options);
    }

    /// <summary>
    /// <see cref="Mount(SquashFsImage, string, FuseServerOptions?)"/> with the mount point as the bytes of an absolute
    /// path (without a NUL), which need not be UTF-8.
    /// </summary>
    public static FuseServer Mount(SquashFsImage image, byte[] mountPoint, FuseServerOptions? options = null)
    {
        ArgumentNullException.ThrowIfNull(image);
        ArgumentNullException.ThrowIfNull(mountPoint);
        if (mountPoint.Length == 0 || mountPoint[0] != '/' || mountPoint.AsSpan().IndexOf((byte)0) >= 0)
            throw new ArgumentException("the mount point must be an absolute path without NUL bytes", nameof(mountPoint));
        options ??= new FuseServerOptions();
        var fs = new ImageFileSystem(image, options.BlockCacheBytes);
        int device;
        try
        {
            device = FuseMounter.Mount(mountPoint, string.IsNullOrEmpty(options.Source) ? "xar" : options.Source, options.Access, options.EarlyFusermount);
        }
        catch
        {
            fs.Dispose();
            throw;
        }
        return new FuseServer(fs, device, mountPoint, options);
    }

    /// <summary>Starts the serving threads.</summary>
    public void Start()
    {
        foreach (var thread in _threads)
            thread.Start();
    }

    /// <summary>Waits until the kernel's INIT has been answered (the mount then serves requests). False on timeout.</summary>
    /// <exception cref="FuseUnavailableException">The kernel and the server could not agree on the protocol, or the serving threads stopped first.</exception>
    public bool WaitUntilInitialized(TimeSpan timeout)
    {
        if (!_initialized.Wait(timeout))
            return false;
        if (_initFailure is not null)
            throw new FuseUnavailableException(_initFailure);
        if (!_dispatcher.IsInitialized)
            throw new FuseUnavailableException(Failure ?? "the file system went away before the kernel's INIT");
        return true;
    }

    /// <summary>True when the mount point shows this server's file system (not another one mounted over or in place of it).</summary>
    public bool IsMountedHere() => _mount.IsMountedHere();

    /// <summary>Unmounts, unless the mount point no longer shows this server's mount (then: Failed, nothing touched).</summary>
    public FuseUnmountResult Unmount(bool lazy, out string? error) => _mount.Unmount(lazy, out error);

    /// <summary>Set when every serving thread has stopped (the file system was unmounted).</summary>
    public WaitHandle Exited => _running.WaitHandle;

    /// <summary>Waits for every serving thread to stop (the file system was unmounted). False on timeout.</summary>
    public bool WaitForExit(TimeSpan timeout) => _running.Wait(timeout);

    private void RunWorker(FuseWorker worker)
    {
        try
        {
            worker.Run();
            if (worker.Failure is not null)
                Failure ??= worker.Failure;
        }
        catch (Exception e)
        {
            Failure ??= e.Message;
        }
        finally
        {
            _initialized.Set(); // a server that stops before INIT must not keep anyone waiting for it
            _running.Signal();
        }
    }

    /// <summary>
    /// Unmounts (lazily when busy) if still mounted and frees everything once the threads have stopped.
    /// Threads that do not stop (a lazily unmounted file system still in use) keep their buffers.
    /// </summary>
    public void Dispose()
    {
        if (_disposed)
            return;
        _disposed = true;
        if (!_running.IsSet && _threads[0].ThreadState != ThreadState.Unstarted)
        {
            if (Unmount(lazy: false, out _) == FuseUnmountResult.Busy)
                Unmount(lazy: true, out _);
            if (!_running.Wait(TimeSpan.FromSeconds(10)))
                return;
        }
        else if (_threads[0].ThreadState == ThreadState.Unstarted)
        {
            Unmount(lazy: true, out _);
        }
        _prefetcher.Dispose();
        Close(_device);
        foreach (var worker in _workers)
            worker.Dispose();
        _fs.Dispose();
        _initialized.Dispose();
    }
}
