using System.Buffers;
using System.Runtime.ExceptionServices;
using System.Runtime.InteropServices;
using System.Security.Cryptography;
using Microsoft.Win32.SafeHandles;
using Xar.SquashFs.Compression;
using Xar.SquashFs.Format;
using Xar.Posix;

namespace Xar.SquashFs.Writing;

/// <summary>
/// Writes file data: the calling thread reads files block by block, worker threads compress the
/// blocks in parallel, and one writer thread puts them into the image in the order they were read,
/// so the output never depends on the number of threads. Blocks in flight are bounded, so memory
/// does not grow with the size of the files. All-zero blocks are stored as sparse (size 0); file
/// tails are packed into fragment blocks; a file whose content equals an earlier file's is stored
/// once (SHA-256 over the content, checked before any of its blocks is queued, so nothing is
/// written and then taken back); equal tails share one fragment slot.
/// </summary>
internal sealed class DataWriter : IDisposable
{
    private enum JobKind { Block, Fragment }

    private sealed class Job
    {
        public JobKind Kind;
        public FileData? File;
        public int BlockIndex;
        public byte[]? Input;
        public int Length;
        public bool Zero;
        public byte[]? Output;
        public int OutputLength;
        public Exception? Error;
        public bool Completed;
    }

    private static readonly byte[] ZeroBlock = new byte[64 * 1024];

    private readonly ImageOutput _output;
    private readonly int _blockSize;
    private readonly bool _fragments;
    private readonly bool _dedup;
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
    private readonly Action<long>? _onBlockRead;
    private ExceptionDispatchInfo? _failure;

    private readonly HashSet<ulong>? _sharedSizes;
    private readonly HashSet<int>? _sharedTailLengths;
    private readonly Dictionary<(ulong, string), FileData> _contents = [];
    private readonly Dictionary<string, (uint Index, uint Offset)> _tails = new(StringComparer.Ordinal);
    private byte[]? _fragment;
    private int _fragmentUsed;
    private uint _fragmentCount;

    public DataWriter(ImageOutput output, SquashFsWriterOptions options, IReadOnlyList<SourceInode> files,
        Action<long>? onBlockRead, CancellationToken cancel)
    {
        _output = output;
        _blockSize = options.BlockSize;
        _fragments = !options.NoFragments;
        _dedup = !options.NoDeduplication;
        _onBlockRead = onBlockRead;
        _userCancel = cancel;
        _cancelRegistration = cancel.Register(() => Stop(null));
        int jobs = Math.Max(1, options.Jobs);
        // Blocks in flight: enough to keep every worker busy, at most ~64 MiB of buffers (in + out).
        int inFlight = Math.Clamp(jobs * 4, 8, Math.Max(8, (64 << 20) / (2 * _blockSize)));
        _capacity = inFlight;
        if (_dedup)
        {
            // Only a file whose size another file has can be a duplicate: only those are hashed first.
            var seen = new HashSet<ulong>();
            _sharedSizes = [];
            foreach (var f in files)
                if (f.Size > 0 && !seen.Add(f.Size))
                    _sharedSizes.Add(f.Size);
            // Likewise only a tail whose length another tail has can share a fragment slot.
            var seenTails = new HashSet<int>();
            _sharedTailLengths = [];
            foreach (var f in files)
            {
                int tail = (int)(f.Size % (ulong)_blockSize);
                if (tail > 0 && !seenTails.Add(tail))
                    _sharedTailLengths.Add(tail);
            }
        }
        _workers = new Thread[jobs];
        for (int i = 0; i < jobs; i++)
        {
            var compressor = CompressorFactory.CreateCompressor(options.Compression, _blockSize);
            _workers[i] = new Thread(() => CompressLoop(compressor)) { IsBackground = true, Name = $"squashfs-compress-{i}" };
            _workers[i].Start();
        }
        _writer = new Thread(WriteLoop) { IsBackground = true, Name = "squashfs-write" };
        _writer.Start();
    }

    /// <summary>Fragment table entries (image offset, on-disk size), complete after <see cref="Complete"/>.</summary>
    public List<(ulong Start, uint Size)> FragmentTable { get; } = [];

    /// <summary>Bytes written to the image so far (for progress).</summary>
    public long BytesWritten => Interlocked.Read(ref _bytesWritten);

    private long _bytesWritten;

    /// <summary>Reads and queues one regular file; sets <see cref="SourceInode.Data"/>.</summary>
    public void AddFile(SourceInode inode)
    {
        ThrowIfFailed();
        ulong size = inode.Size;
        if (size == 0)
        {
            inode.Data = new FileData(0, 0);
            return;
        }
        using var source = FileSource.Open(inode);
        string? hash = null;
        if (_sharedSizes is not null && _sharedSizes.Contains(size))
        {
            hash = source.Hash(_blockSize, _userCancel);
            if (_contents.TryGetValue((size, hash), out var same))
            {
                inode.Data = same;
                _onBlockRead?.Invoke((long)size);
                return;
            }
        }
        bool tailToFragment = _fragments && size % (ulong)_blockSize != 0;
        ulong blockCount = tailToFragment ? size / (ulong)_blockSize : (size + (ulong)_blockSize - 1) / (ulong)_blockSize;
        if (blockCount > int.MaxValue)
            throw new SourceTreeException(source.Display, "file is too large", isBadInput: true);
        var data = new FileData(size, (int)blockCount);
        using var rehash = hash is null ? null : IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
        ulong offset = 0;
        for (int i = 0; i < (int)blockCount; i++)
        {
            int length = (int)Math.Min((ulong)_blockSize, size - offset);
            if (source.IsHole(offset, length))
            {
                // A hole in a sparse file: a sparse block, without reading gigabytes of zeros.
                if (rehash is not null)
                    for (int z = 0; z < length; z += ZeroBlock.Length)
                        rehash.AppendData(ZeroBlock, 0, Math.Min(ZeroBlock.Length, length - z));
                data.SparseBytes += (ulong)length;
                Submit(new Job { Kind = JobKind.Block, File = data, BlockIndex = i, Input = null, Length = length, Zero = true });
                offset += (ulong)length;
                _onBlockRead?.Invoke(length);
                continue;
            }
            byte[] buffer = ArrayPool<byte>.Shared.Rent(_blockSize);
            try
            {
                source.ReadExactly(buffer.AsSpan(0, length), offset);
            }
            catch
            {
                ArrayPool<byte>.Shared.Return(buffer);
                throw;
            }
            rehash?.AppendData(buffer, 0, length);
            bool zero = buffer.AsSpan(0, length).IndexOfAnyExcept((byte)0) < 0;
            if (zero)
                data.SparseBytes += (ulong)length;
            Submit(new Job { Kind = JobKind.Block, File = data, BlockIndex = i, Input = buffer, Length = length, Zero = zero });
            offset += (ulong)length;
            _onBlockRead?.Invoke(length);
        }
        if (offset < size)
        {
            int tail = (int)(size - offset);
            byte[] buffer = ArrayPool<byte>.Shared.Rent(tail);
            try
            {
                source.ReadExactly(buffer.AsSpan(0, tail), offset);
                rehash?.AppendData(buffer, 0, tail);
                AddTail(data, buffer.AsSpan(0, tail));
            }
            finally
            {
                ArrayPool<byte>.Shared.Return(buffer);
            }
            _onBlockRead?.Invoke(tail);
        }
        source.CheckUnchanged();
        if (rehash is not null)
        {
            if (Convert.ToBase64String(rehash.GetHashAndReset()) != hash)
                throw new SourceTreeException(source.Display, "changed while it was read");
            _contents[(size, hash!)] = data;
        }
        inode.Data = data;
    }

    private void AddTail(FileData data, ReadOnlySpan<byte> tail)
    {
        string? key = null;
        if (_sharedTailLengths is not null && _sharedTailLengths.Contains(tail.Length))
        {
            key = Convert.ToBase64String(SHA256.HashData(tail)) + tail.Length;
            if (_tails.TryGetValue(key, out var slot))
            {
                data.FragmentIndex = slot.Index;
                data.FragmentOffset = slot.Offset;
                return;
            }
        }
        if (_fragment is not null && _fragmentUsed + tail.Length > _blockSize)
            SubmitFragment();
        _fragment ??= ArrayPool<byte>.Shared.Rent(_blockSize);
        tail.CopyTo(_fragment.AsSpan(_fragmentUsed));
        data.FragmentIndex = _fragmentCount;
        data.FragmentOffset = (uint)_fragmentUsed;
        _fragmentUsed += tail.Length;
        if (key is not null)
            _tails[key] = (data.FragmentIndex, data.FragmentOffset);
    }

    private void SubmitFragment()
    {
        if (_fragment is null)
            return;
        Submit(new Job { Kind = JobKind.Fragment, Input = _fragment, Length = _fragmentUsed });
        _fragment = null;
        _fragmentUsed = 0;
        _fragmentCount++;
    }

    private void Submit(Job job)
    {
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

    /// <summary>Queues the last fragment block and waits until every block is in the image.</summary>
    public void Complete()
    {
        SubmitFragment();
        lock (_gate)
        {
            _addingDone = true;
            Monitor.PulseAll(_gate);
        }
        JoinThreads();
        ThrowIfFailed();
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

    private void ThrowIfFailed()
    {
        _failure?.Throw();
        _userCancel.ThrowIfCancellationRequested();
        if (_stopped)
            throw new OperationCanceledException();
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
                    Monitor.PulseAll(_gate); // room for the reader
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
        if (job.Kind == JobKind.Fragment)
        {
            FragmentTable.Add((position, size));
            return;
        }
        var file = job.File!;
        if (job.BlockIndex == 0)
            file.BlocksStart = position;
        file.BlockSizes[job.BlockIndex] = size;
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
        if (_fragment is not null)
        {
            ArrayPool<byte>.Shared.Return(_fragment);
            _fragment = null;
        }
        _cancelRegistration.Dispose();
    }
}

/// <summary>A regular file being read: by path (raw bytes, O_NOFOLLOW) or from memory.</summary>
internal sealed unsafe class FileSource : IDisposable
{
    private readonly SafeFileHandle? _handle;
    private readonly byte[]? _content;
    private readonly SourceInode _inode;
    private readonly LibC.Statx _opened;

    private FileSource(SourceInode inode, SafeFileHandle? handle, byte[]? content, LibC.Statx opened)
    {
        _inode = inode;
        _handle = handle;
        _content = content;
        _opened = opened;
    }

    public string Display => _inode.SourcePath is { } p ? System.Text.Encoding.UTF8.GetString(p.AsSpan(0, p.Length - 1)) : "(generated file)";

    public static FileSource Open(SourceInode inode)
    {
        if (inode.Content is not null)
            return new FileSource(inode, null, inode.Content, default);
        var path = inode.SourcePath!;
        int fd, errno = 0;
        using (var longPath = LongPath.For(path.AsSpan(0, path.Length - 1)))
        fixed (byte* p = longPath.CString)
        {
            fd = LibC.Open(p, LibC.O_RDONLY | LibC.O_CLOEXEC | LibC.O_NOFOLLOW | LibC.O_NOATIME, 0);
            if (fd < 0 && Marshal.GetLastPInvokeError() == LibC.EPERM)
                fd = LibC.Open(p, LibC.O_RDONLY | LibC.O_CLOEXEC | LibC.O_NOFOLLOW, 0); // O_NOATIME needs ownership
            if (fd < 0)
                errno = Marshal.GetLastPInvokeError(); // before the long path's directory is closed
        }
        string display = System.Text.Encoding.UTF8.GetString(path.AsSpan(0, path.Length - 1));
        if (fd < 0)
        {
            throw errno == LibC.ENOENT
                ? new SourceTreeException(display, "disappeared while the tree was read")
                : new SourceTreeException(display, "cannot open: " + LibC.Describe(errno));
        }
        var handle = new SafeFileHandle(fd, ownsHandle: true);
        var st = StatFd(handle, display);
        if (st.Size != inode.SourceSize || st.Mtime.Seconds * 1_000_000_000 + st.Mtime.Nanoseconds != inode.SourceMtimeNanoseconds
            || (st.Mode & 0xF000) != 0x8000)
        {
            handle.Dispose();
            throw new SourceTreeException(display, "changed while the tree was read");
        }
        return new FileSource(inode, handle, null, st);
    }

    private static LibC.Statx StatFd(SafeFileHandle handle, string display)
    {
        LibC.Statx st;
        byte empty = 0;
        if (LibC.StatxAt((int)handle.DangerousGetHandle(), &empty, LibC.AT_EMPTY_PATH, LibC.STATX_BASIC_STATS, &st) != 0)
            throw new SourceTreeException(display, "cannot stat: " + LibC.Describe(Marshal.GetLastPInvokeError()));
        return st;
    }

    private long _nextData = -1;

    /// <summary>
    /// True when [offset, offset+length) lies in a hole of a sparse file (SEEK_DATA finds no data
    /// there). Asked only of files with fewer allocated blocks than their size.
    /// </summary>
    public bool IsHole(ulong offset, int length)
    {
        if (_handle is null || _opened.Blocks * 512 >= _opened.Size)
            return false;
        long start = (long)offset;
        if (_nextData > start)
            return _nextData >= start + length;
        long next = LibC.LSeek((int)_handle.DangerousGetHandle(), start, LibC.SEEK_DATA);
        if (next < 0)
        {
            if (Marshal.GetLastPInvokeError() != LibC.ENXIO)
                return false; // no SEEK_DATA here: read and test the bytes instead
            next = long.MaxValue; // no data after offset
        }
        _nextData = next;
        return next >= start + length;
    }

    /// <summary>Reads exactly <paramref name="destination"/>.Length bytes at <paramref name="offset"/>; a short file has changed.</summary>
    public void ReadExactly(Span<byte> destination, ulong offset)
    {
        if (_content is not null)
        {
            _content.AsSpan((int)offset, destination.Length).CopyTo(destination);
            return;
        }
        while (!destination.IsEmpty)
        {
            int n;
            try
            {
                n = RandomAccess.Read(_handle!, destination, (long)offset);
            }
            catch (IOException e)
            {
                throw new SourceTreeException(Display, "cannot read: " + e.Message, inner: e);
            }
            if (n == 0)
                throw new SourceTreeException(Display, "changed while it was read (it got shorter)");
            destination = destination[n..];
            offset += (ulong)n;
        }
    }

    public string Hash(int bufferSize, CancellationToken cancel)
    {
        if (_content is not null)
            return Convert.ToBase64String(SHA256.HashData(_content));
        using var hash = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
        byte[] buffer = ArrayPool<byte>.Shared.Rent(Math.Max(bufferSize, 64 * 1024));
        try
        {
            ulong offset = 0;
            while (offset < _inode.Size)
            {
                cancel.ThrowIfCancellationRequested();
                int n = (int)Math.Min((ulong)buffer.Length, _inode.Size - offset);
                ReadExactly(buffer.AsSpan(0, n), offset);
                hash.AppendData(buffer, 0, n);
                offset += (ulong)n;
            }
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(buffer);
        }
        return Convert.ToBase64String(hash.GetHashAndReset());
    }

    /// <summary>After the last byte: the file must not have grown or been modified meanwhile.</summary>
    public void CheckUnchanged()
    {
        if (_handle is null)
            return;
        Span<byte> one = stackalloc byte[1];
        if (RandomAccess.Read(_handle, one, (long)_inode.Size) != 0)
            throw new SourceTreeException(Display, "changed while it was read (it grew)");
        var st = StatFd(_handle, Display);
        if (st.Size != _opened.Size || st.Mtime.Seconds != _opened.Mtime.Seconds || st.Mtime.Nanoseconds != _opened.Mtime.Nanoseconds
            || st.Ctime.Seconds != _opened.Ctime.Seconds || st.Ctime.Nanoseconds != _opened.Ctime.Nanoseconds)
            throw new SourceTreeException(Display, "changed while it was read");
    }

    public void Dispose() => _handle?.Dispose();
}
