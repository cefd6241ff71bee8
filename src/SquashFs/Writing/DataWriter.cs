using System.Buffers;
using System.Security.Cryptography;

namespace Xar.SquashFs.Writing;

/// <summary>
/// Writes the data of regular files. The calling thread reads each file block by block and submits
/// the blocks to the <see cref="BlockPipeline"/> (compressed in parallel, written in order); holes of
/// sparse files and all-zero blocks become sparse blocks; a file's tail goes to the
/// <see cref="FragmentPacker"/>; a file whose content equals an earlier file's is stored once (the
/// <see cref="ContentIndex"/> is asked before any of its blocks is submitted, so nothing is written
/// and then taken back).
/// </summary>
internal sealed class DataWriter : IDisposable
{
    private static readonly byte[] ZeroBlock = new byte[64 * 1024];

    private readonly int _blockSize;
    private readonly BlockPipeline _pipeline;
    private readonly FragmentPacker? _fragments;
    private readonly ContentIndex? _contents;
    private readonly Action<long>? _onBlockRead;
    private readonly CancellationToken _cancel;

    public DataWriter(ImageOutput output, SquashFsWriterOptions options, IReadOnlyList<SourceInode> files,
        Action<long>? onBlockRead, CancellationToken cancel)
    {
        _blockSize = options.BlockSize;
        _onBlockRead = onBlockRead;
        _cancel = cancel;
        bool dedup = !options.NoDeduplication;
        _contents = dedup ? new ContentIndex(files, _blockSize, runsOfFullBlocks: !options.NoFragments) : null;
        _pipeline = new BlockPipeline(output, options.Compression, _blockSize, Math.Max(1, options.Jobs), cancel);
        _fragments = options.NoFragments ? null : new FragmentPacker(_pipeline, _blockSize, dedup, files);
    }

    /// <summary>Fragment table entries (image offset, on-disk size), complete after <see cref="Complete"/>.</summary>
    public IReadOnlyList<(ulong Start, uint Size)> FragmentTable => _fragments?.Table ?? [];

    /// <summary>Bytes written to the image so far (for progress).</summary>
    public long BytesWritten => _pipeline.BytesWritten;

    /// <summary>Reads and queues one regular file; sets <see cref="SourceInode.Data"/>.</summary>
    public void AddFile(SourceInode inode)
    {
        _pipeline.ThrowIfFailed();
        ulong size = inode.Size;
        if (size == 0)
        {
            inode.Data = new FileData(0, 0);
            return;
        }
        using var source = FileSource.Open(inode);
        string? hash = null, runHash = null;
        bool sizeTwin = _contents is not null && _contents.MayHaveTwin(size);
        bool runTwin = _contents is not null && _contents.MayShareBlocks(inode);
        if (sizeTwin || runTwin)
        {
            hash = source.Hash(_blockSize, runTwin ? _contents!.FullBlocks(size) * (ulong)_blockSize : 0, out runHash, _cancel);
            if (sizeTwin && _contents!.TryGet(size, hash, out var same))
            {
                inode.Data = same;
                _onBlockRead?.Invoke((long)size);
                return;
            }
            if (runTwin && _contents!.TryGetBlocks(size, runHash!, out var owner))
            {
                ShareBlocks(inode, source, owner);
                return;
            }
        }
        bool tailToFragment = _fragments is not null && size % (ulong)_blockSize != 0;
        ulong blockCount = tailToFragment ? size / (ulong)_blockSize : (size + (ulong)_blockSize - 1) / (ulong)_blockSize;
        if (blockCount > int.MaxValue)
            throw new SourceTreeException(source.Display, "file is too large", isBadInput: true);
        var data = new FileData(size, (int)blockCount);
        // The content is hashed again as it is read: a file that changed after the first hash must not pose as its twin.
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
                _pipeline.Submit(data, i, null, length, zero: true);
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
            _pipeline.Submit(data, i, buffer, length, zero);
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
                _fragments!.Add(data, buffer.AsSpan(0, tail));
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
            _contents!.Add(size, hash!, data);
            if (runHash is not null)
                _contents.AddBlocks(size, runHash, data);
        }
        inode.Data = data;
    }

    /// <summary>
    /// A file whose full blocks equal <paramref name="owner"/>'s: it points at that block run and only its tail is
    /// read and stored (a fragment of its own; an equal tail still shares a slot there).
    /// </summary>
    private void ShareBlocks(SourceInode inode, FileSource source, FileData owner)
    {
        ulong size = inode.Size;
        var data = new FileData(size, owner);
        ulong full = _contents!.FullBlocks(size) * (ulong)_blockSize;
        int tail = (int)(size - full);
        if (tail > 0)
        {
            byte[] buffer = ArrayPool<byte>.Shared.Rent(tail);
            try
            {
                source.ReadExactly(buffer.AsSpan(0, tail), full);
                _fragments!.Add(data, buffer.AsSpan(0, tail));
            }
            finally
            {
                ArrayPool<byte>.Shared.Return(buffer);
            }
        }
        source.CheckUnchanged();
        _onBlockRead?.Invoke((long)size);
        inode.Data = data;
    }

    /// <summary>Queues the last fragment block and waits until every block is in the image.</summary>
    public void Complete()
    {
        _fragments?.Flush();
        _pipeline.Complete();
    }

    public void Dispose()
    {
        _pipeline.Dispose();
        _fragments?.Dispose();
    }
}
