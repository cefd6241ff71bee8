using System.Buffers;
using System.Security.Cryptography;

namespace Xar.SquashFs.Writing;

/// <summary>
/// Packs file tails (what is left after a file's last whole block) into fragment blocks: each tail
/// goes into the current fragment block, which is submitted to the <see cref="BlockPipeline"/> when
/// the next tail does not fit. With dedup, equal tails share one slot (SHA-256 and length; only a
/// length that two tails of the tree share is hashed). <see cref="Table"/> is the fragment table.
/// </summary>
internal sealed class FragmentPacker : IBlockPlacement, IDisposable
{
    private readonly BlockPipeline _pipeline;
    private readonly int _blockSize;
    private readonly HashSet<int>? _sharedTailLengths;
    private readonly Dictionary<string, (uint Index, uint Offset)> _tails = new(StringComparer.Ordinal);
    private byte[]? _fragment;
    private int _fragmentUsed;
    private uint _fragmentCount;

    public FragmentPacker(BlockPipeline pipeline, int blockSize, bool dedup, IReadOnlyList<SourceInode> files)
    {
        _pipeline = pipeline;
        _blockSize = blockSize;
        if (dedup)
        {
            var seenTails = new HashSet<int>();
            _sharedTailLengths = [];
            foreach (var f in files)
            {
                int tail = (int)(f.Size % (ulong)blockSize);
                if (tail > 0 && !seenTails.Add(tail))
                    _sharedTailLengths.Add(tail);
            }
        }
    }

    /// <summary>Fragment table entries (image offset, on-disk size), complete once the pipeline is.</summary>
    public List<(ulong Start, uint Size)> Table { get; } = [];

    /// <summary>Stores <paramref name="tail"/> (shorter than a block) and sets the file's fragment index and offset.</summary>
    public void Add(FileData data, ReadOnlySpan<byte> tail)
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
            Flush();
        _fragment ??= ArrayPool<byte>.Shared.Rent(_blockSize);
        tail.CopyTo(_fragment.AsSpan(_fragmentUsed));
        data.FragmentIndex = _fragmentCount;
        data.FragmentOffset = (uint)_fragmentUsed;
        _fragmentUsed += tail.Length;
        if (key is not null)
            _tails[key] = (data.FragmentIndex, data.FragmentOffset);
    }

    /// <summary>Submits the current fragment block, if any (the last one when all files are added).</summary>
    public void Flush()
    {
        if (_fragment is null)
            return;
        // The pipeline owns the buffer from here on, even when Submit throws.
        byte[] block = _fragment;
        int used = _fragmentUsed;
        _fragment = null;
        _fragmentUsed = 0;
        _pipeline.Submit(this, (int)_fragmentCount, block, used, zero: false);
        _fragmentCount++;
    }

    void IBlockPlacement.Placed(int index, ulong start, uint size) => Table.Add((start, size));

    public void Dispose()
    {
        if (_fragment is not null)
        {
            ArrayPool<byte>.Shared.Return(_fragment);
            _fragment = null;
        }
    }
}
