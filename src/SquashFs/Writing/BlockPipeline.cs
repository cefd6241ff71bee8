using System.Buffers;
using System.Runtime.ExceptionServices;
using Xar.SquashFs.Compression;
using Xar.SquashFs.Format;

namespace Xar.SquashFs.Writing;

/// <summary>
/// The back end of data writing: one producer submits blocks, worker threads compress them in
/// parallel, and one writer thread puts them into the image in the order they were submitted, so
/// the output never depends on the number of threads. Blocks in flight are bounded, so memory does
/// not grow with the size of the files. An all-zero block is not compressed but stored as sparse
/// (size 0); a block that does not get smaller is stored raw.
/// </summary>
internal sealed class BlockPipeline : IDisposable
{
    private sealed class Job
    {
        public IBlockPlacement? Placement;
        public int Index;
        public byte[]? Input;
        public int Length;
        public bool Zero;
        public byte[]? Output;
        public int OutputLength;
        public Exception? Error;
        public bool Completed;
    }

    private readonly ImageOutput _output;
    private readonly int _blockSize;
    private readonly object _gate = new();
    private readonly Queue<Job> _ordered = new();
    private readonly Queue<Job> _work = new();
    private readonly int _capacity;
    private bool _addingDone;
    private bool _stopped;
    private bool _joined;
    private readonly Thread[] _workers;
    private readonly Thread _writer;
    private readonly CancellationToken _userCancel;
    private readonly CancellationTokenRegistration _cancelRegistration;
    private ExceptionDispatchInfo? _failure;
    private long _bytesWritten;

    public BlockPipeline(ImageOutput output, CompressionOptions compression, int blockSize, int jobs, CancellationToken cancel)
    {
        _output = output;
        _blockSize = blockSize;
        _userCancel = cancel;
        _cancelRegistration = cancel.Register(() => Stop(null));
        // Blocks in flight: enough to keep every worker busy, at most ~64 MiB of buffers (in + out).
        _capacity = Math.Clamp(jobs * 4, 8, Math.Max(8, (64 << 20) / (2 * blockSize)));
        _workers = new Thread[jobs];
        for (int i = 0; i < jobs; i++)
        {
            var compressor = CompressorFactory.CreateCompressor(compression, blockSize);
            _workers[i] = new Thread(() => CompressLoop(compressor)) { IsBackground = true, Name = $"squashfs-compress-{i}" };
            _workers[i].Start();
        }
        _writer = new Thread(WriteLoop) { IsBackground = true, Name = "squashfs-write" };
        _writer.Start();
    }

    /// <summary>Bytes written to the image so far (for progress).</summary>
    public long BytesWritten => Interlocked.Read(ref _bytesWritten);

    /// <summary>
    /// Queues block <paramref name="index"/> of <paramref name="placement"/>: the first
    /// <paramref name="length"/> bytes of <paramref name="input"/>, a buffer rented from
    /// <see cref="ArrayPool{T}.Shared"/> that the pipeline now owns and returns (null only for a
    /// <paramref name="zero"/> block). Waits while the pipeline is full.
    /// </summary>
    public void Submit(IBlockPlacement placement, int index, byte[]? input, int length, bool zero)
    {
        var job = new Job { Placement = placement, Index = index, Input = input, Length = length, Zero = zero };
        lock (_gate)
        {
            while (_ordered.Count >= _capacity && !_stopped)
                Monitor.Wait(_gate);
            if (_stopped)
            {
                if (job.Input is not null)
                    ArrayPool<byte>.Shared.Return(job.Input);
            }
            else
            {
                _ordered.Enqueue(job);
                if (job.Zero)
                    job.Completed = true;
                else
                    _work.Enqueue(job);
                Monitor.PulseAll(_gate);
                return;
            }
        }
        ThrowIfFailed();
    }

    /// <summary>Waits until every block submitted is in the image.</summary>
    public void Complete()
    {
        lock (_gate)
        {
            _addingDone = true;
            Monitor.PulseAll(_gate);
        }
        JoinThreads();
        ThrowIfFailed();
    }

    /// <summary>Throws the first error of a worker or the writer, or when the work was cancelled.</summary>
    public void ThrowIfFailed()
    {
        _failure?.Throw();
        _userCancel.ThrowIfCancellationRequested();
        if (_stopped)
            throw new OperationCanceledException();
    }

    private void JoinThreads()
    {
        _writer.Join();
        lock (_gate)
        {
            _addingDone = true;
            Monitor.PulseAll(_gate);
        }
        foreach (var w in _workers)
            w.Join();
        _joined = true;
    }

    private void Stop(Exception? e)
    {
        lock (_gate)
        {
            if (e is not null)
                _failure ??= ExceptionDispatchInfo.Capture(e);
            _stopped = true;
            Monitor.PulseAll(_gate);
        }
    }

    // Threads hand jobs over under one lock with Monitor.Wait/PulseAll: no spinning, which on a
    // machine with few, busy cores costs more than it saves.
    private void CompressLoop(IBlockCompressor compressor)
    {
        try
        {
            while (true)
            {
                Job job;
                lock (_gate)
                {
                    while (_work.Count == 0 && !_addingDone && !_stopped)
                        Monitor.Wait(_gate);
                    if (_stopped || _work.Count == 0)
                        return;
                    job = _work.Dequeue();
                }
                try
                {
                    var output = ArrayPool<byte>.Shared.Rent(_blockSize);
                    job.Output = output;
                    int n = compressor.Compress(job.Input.AsSpan(0, job.Length), output);
                    job.OutputLength = n > 0 && n < job.Length ? n : 0;
                }
                catch (Exception e)
                {
                    job.Error = e;
                }
                lock (_gate)
                {
                    job.Completed = true;
                    Monitor.PulseAll(_gate);
                }
            }
        }
        finally
        {
            compressor.Dispose();
        }
    }

    private void WriteLoop()
    {
        try
        {
            while (true)
            {
                Job job;
                lock (_gate)
                {
                    while (!_stopped && !(_ordered.Count > 0 && _ordered.Peek().Completed) && !(_ordered.Count == 0 && _addingDone))
                        Monitor.Wait(_gate);
                    if (_stopped || _ordered.Count == 0)
                        return;
                    job = _ordered.Dequeue();
                    Monitor.PulseAll(_gate); // room for the producer
                }
                try
                {
                    if (job.Error is not null)
                        throw job.Error;
                    Write(job);
                }
                finally
                {
                    if (job.Input is not null)
                        ArrayPool<byte>.Shared.Return(job.Input);
                    if (job.Output is not null)
                        ArrayPool<byte>.Shared.Return(job.Output);
                }
            }
        }
        catch (Exception e)
        {
            Stop(e);
        }
    }

    private void Write(Job job)
    {
        ulong position = (ulong)_output.Position;
        uint size;
        if (job.Zero)
            size = 0;
        else if (job.OutputLength > 0)
        {
            _output.Write(job.Output.AsSpan(0, job.OutputLength));
            size = (uint)job.OutputLength;
        }
        else
        {
            _output.Write(job.Input.AsSpan(0, job.Length));
            size = (uint)job.Length | SquashFsConstants.DataBlockUncompressedBit;
        }
        Interlocked.Exchange(ref _bytesWritten, _output.Position);
        job.Placement!.Placed(job.Index, position, size);
    }

    public void Dispose()
    {
        if (!_joined)
        {
            Stop(null);
            JoinThreads();
        }
        // Every thread is gone: what is still queued can go back to the pool.
        foreach (var job in _ordered)
        {
            if (job.Input is not null)
                ArrayPool<byte>.Shared.Return(job.Input);
            if (job.Output is not null)
                ArrayPool<byte>.Shared.Return(job.Output);
        }
        _ordered.Clear();
        _cancelRegistration.Dispose();
    }
}
