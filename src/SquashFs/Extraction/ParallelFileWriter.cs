using System.Runtime.ExceptionServices;
using Xar.Posix;
using Xar.SquashFs.Reading;

namespace Xar.SquashFs.Extraction;

/// <summary>
/// Creates regular files and writes their data: the walk creates each file and hands it over as
/// chunks of blocks (a big file is written by several threads at once), batched so that one
/// hand-off carries many small files; worker threads decode the blocks and pwrite them. Sparse
/// blocks are never written. Whoever finishes a file's last chunk restores its attributes and
/// closes it. With one thread, everything runs on the walk's thread.
/// </summary>
internal sealed unsafe class ParallelFileWriter
{
    /// <summary>Blocks per work item: big files are written by several threads at once.</summary>
    private const int BlocksPerChunk = 32;
    /// <summary>Chunks handed to the workers together: one hand-off per file costs more than a small file's work.</summary>
    private const int BatchFiles = 48;
    private const long BatchBytes = 2 << 20;

    private readonly SquashFsImage _image;
    private readonly AttributeRestorer _attributes;
    private WorkQueue<List<Chunk>>? _queue;
    private List<Chunk> _batch = [];
    private long _batchBytes;
    private Thread[] _workers = [];
    private Exception? _errorField;
    private long _bytes;
    private readonly CancellationToken _cancel;

    public ParallelFileWriter(SquashFsImage image, AttributeRestorer attributes, int parallelism, CancellationToken cancel = default)
    {
        _image = image;
        _attributes = attributes;
        _cancel = cancel;
        if (parallelism <= 1)
            return;
        _queue = new WorkQueue<List<Chunk>>(parallelism * 2);
        _workers = new Thread[parallelism];
        for (int i = 0; i < _workers.Length; i++)
        {
            _workers[i] = new Thread(WorkerLoop) { IsBackground = true, Name = "xar-extract" };
            _workers[i].Start();
        }
    }

    /// <summary>File bytes written so far, by all threads.</summary>
    public long BytesWritten => Interlocked.Read(ref _bytes);

    /// <summary>The first error of a worker thread, if any.</summary>
    public Exception? Error => Volatile.Read(ref _errorField);

    /// <summary>Throws a worker's own exception, so a corrupt block stays "bad input" and an I/O error stays one.</summary>
    public void ThrowIfFailed()
    {
        if (Error is { } e)
            ExceptionDispatchInfo.Throw(e);
    }

    /// <summary>Creates <paramref name="cname"/> in <paramref name="dirFd"/> (it must not exist) and queues its data.</summary>
    public void Add(SquashFsEntry entry, int dirFd, byte[] cname, byte[] path)
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
                    _cancel.ThrowIfCancellationRequested();
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

    /// <summary>
    /// Hands over what is batched (or, after a worker failed, abandons it) and waits for the workers
    /// to finish. Safe to call more than once.
    /// </summary>
    public void Finish()
    {
        if (_queue is null)
            return;
        if (Error is null)
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

    private void FlushBatch()
    {
        if (_queue is null || _batch.Count == 0)
            return;
        _queue.Add(_batch);
        _batch = [];
        _batchBytes = 0;
    }

    private void WorkerLoop()
    {
        byte[] buffer = new byte[_image.Data.BlockSize];
        var queue = _queue!;
        while (queue.TryTake(out var batch))
        {
            foreach (var chunk in batch)
            {
                if (Error is not null || _cancel.IsCancellationRequested)
                {
                    Abandon(chunk.Job); // the caller sees the error, or the cancellation, and removes the tree
                    continue;
                }
                try
                {
                    RunChunk(chunk, buffer);
                }
                catch (Exception e)
                {
                    Interlocked.CompareExchange(ref _errorField, e, null);
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
                    _attributes.Restore(job.Fd, layout.Inode, job.Entry, isDirectory: false, job.Path);
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
}
