using System.Buffers.Binary;
using System.Runtime.InteropServices;
using static Xar.Posix.LibC;

namespace Xar.Runtime.Fuse;

/// <summary>
/// Hands small files to the kernel's page cache before they are asked for. Small files live as
/// tails in shared fragment blocks; when one of them is read, the block is decoded anyway, so the
/// others in it that the kernel knows (looked up, not yet read) are written into its page cache
/// with FUSE_NOTIFY_STORE, each once. A later read of one of them is a page-cache hit: no request,
/// no round trip. (A tree read file by file, an interpreter importing a package's modules.)
/// Storing into a page the kernel is still filling waits for that page, so a serving thread must
/// always be free to answer the READ that fills it: one serving thread at a time may store (before
/// it replies, so the reader finds its next files in the cache already), and only when there are
/// at least two; otherwise the stores go to the prefetcher's own thread.
/// </summary>
internal sealed unsafe class FragmentPrefetcher : IDisposable
{
    private const uint NotifyStore = 4; // FUSE_NOTIFY_STORE
    private const int NotifyHeaderSize = FuseProtocol.OutHeaderSize + 24; // + struct fuse_notify_store_out
    private const int MaxQueued = 256;

    private readonly int _device;
    private readonly ImageFileSystem _fs;
    private readonly FuseNodeTable _nodes;
    private readonly Queue<uint> _queue = new();
    private readonly HashSet<uint> _queued = [];
    private readonly object _gate = new();
    private readonly Thread _thread;
    private readonly Lock _storing = new();
    private readonly bool _servingThreadsMayStore;
    private bool _stopping;
    private bool _started;
    private long _stored;

    /// <param name="servingThreads">How many threads serve requests: with fewer than two, none may store.</param>
    public FragmentPrefetcher(int device, ImageFileSystem fs, FuseNodeTable nodes, int servingThreads)
    {
        _device = device;
        _fs = fs;
        _nodes = nodes;
        _servingThreadsMayStore = servingThreads >= 2;
        // Started with the first fragment queued: most launches never need it, and a thread started
        // here would stand between the mount and the launcher's first request.
        _thread = new Thread(Run) { IsBackground = true, Name = "fuse prefetch" };
    }

    /// <summary>Small files handed to the kernel so far.</summary>
    public long Stored => Interlocked.Read(ref _stored);

    /// <summary>
    /// Stores the other known small files of fragment block <paramref name="fragment"/>: now, on this
    /// serving thread, when no other one is storing; else on the prefetcher's thread.
    /// <paramref name="scratch"/>: a block-sized buffer of the caller's.
    /// </summary>
    public void StoreNeighbours(uint fragment, byte* scratch)
    {
        if (_servingThreadsMayStore && _storing.TryEnter())
        {
            try
            {
                var batch = t_batch ??= [];
                _nodes.TakeUnstored(fragment, batch);
                if (batch.Count > 0)
                    Store(fragment, batch, scratch);
            }
            finally
            {
                _storing.Exit();
            }
            return;
        }
        Enqueue(fragment);
    }

    [ThreadStatic]
    private static List<(ulong Node, uint Offset, uint Size)>? t_batch;

    /// <summary>Asks for the other known small files of fragment block <paramref name="fragment"/> to be stored (dropped when busy).</summary>
    public void Enqueue(uint fragment)
    {
        lock (_gate)
        {
            if (_stopping || _queue.Count >= MaxQueued || !_queued.Add(fragment))
                return;
            if (!_started)
            {
                _thread.Start();
                _started = true;
            }
            _queue.Enqueue(fragment);
            Monitor.Pulse(_gate);
        }
    }

    private void Run()
    {
        var batch = new List<(ulong Node, uint Offset, uint Size)>();
        byte* scratch = (byte*)NativeMemory.Alloc((nuint)_fs.BlockSize);
        try
        {
            while (true)
            {
                uint fragment;
                lock (_gate)
                {
                    while (_queue.Count == 0 && !_stopping)
                        Monitor.Wait(_gate);
                    if (_stopping)
                        return;
                    fragment = _queue.Dequeue();
                    _queued.Remove(fragment);
                }
                _nodes.TakeUnstored(fragment, batch);
                if (batch.Count > 0)
                    Store(fragment, batch, scratch);
            }
        }
        finally
        {
            NativeMemory.Free(scratch);
        }
    }

    private void Store(uint fragment, List<(ulong Node, uint Offset, uint Size)> batch, byte* scratch)
    {
        byte* header = stackalloc byte[NotifyHeaderSize];
        int slot;
        byte* block;
        int length;
        try
        {
            slot = _fs.AcquireFragment(fragment, scratch, out block, out length);
        }
        catch (Exception e) when (e is not OutOfMemoryException)
        {
            return; // a corrupt block: the files' own READs answer EIO
        }
        try
        {
            var h = new Span<byte>(header, NotifyHeaderSize);
            Iovec* iov = stackalloc Iovec[2];
            foreach (var (node, offset, size) in batch)
            {
                if (offset > length || size > length - offset)
                    continue;
                BinaryPrimitives.WriteUInt32LittleEndian(h, (uint)NotifyHeaderSize + size);
                BinaryPrimitives.WriteUInt32LittleEndian(h[4..], NotifyStore);
                BinaryPrimitives.WriteUInt64LittleEndian(h[8..], 0); // unique 0: a notification
                BinaryPrimitives.WriteUInt64LittleEndian(h[16..], node);
                BinaryPrimitives.WriteUInt64LittleEndian(h[24..], 0); // offset in the file
                BinaryPrimitives.WriteUInt32LittleEndian(h[32..], size);
                BinaryPrimitives.WriteUInt32LittleEndian(h[36..], 0);
                iov[0] = new Iovec { Base = header, Length = NotifyHeaderSize };
                iov[1] = new Iovec { Base = block + offset, Length = size };
                // ENOENT: the kernel let go of the inode meanwhile; anything else: nothing to do either.
                if (Writev(_device, iov, 2) >= 0)
                    Interlocked.Increment(ref _stored);
            }
        }
        finally
        {
            _fs.ReleaseBlock(slot);
        }
    }

    public void Dispose()
    {
        lock (_gate)
        {
            _stopping = true;
            Monitor.PulseAll(_gate);
            if (!_started)
                return;
        }
        _thread.Join();
    }
}
