using Xar.SquashFs.Format;

namespace Xar.SquashFs.Writing;

/// <summary>Where a regular file's data went: its block run (its own, or another file's it shares) and its fragment slot.</summary>
internal sealed class FileData : IBlockPlacement
{
    private readonly FileData? _blocksOf;
    private readonly uint[] _blockSizes;
    private ulong _blocksStart;
    private ulong _sparseBytes;

    public FileData(ulong size, int blockCount)
    {
        Size = size;
        _blockSizes = blockCount == 0 ? [] : new uint[blockCount];
    }

    /// <summary>
    /// A file whose full blocks equal <paramref name="blocksOf"/>'s full blocks (same count, same bytes) and whose tail
    /// differs: it points at that block run (two inodes with one <c>blocks_start</c>) and has a fragment of its own.
    /// </summary>
    public FileData(ulong size, FileData blocksOf)
    {
        Size = size;
        _blocksOf = blocksOf;
        _blockSizes = [];
    }

    public ulong Size { get; }

    /// <summary>Image offset of the first block.</summary>
    public ulong BlocksStart => _blocksOf?.BlocksStart ?? _blocksStart;

    /// <summary>On-disk block sizes, bit 24 = stored raw, 0 = sparse (all-zero) block.</summary>
    public uint[] BlockSizes => _blocksOf?.BlockSizes ?? _blockSizes;

    public uint FragmentIndex { get; set; } = SquashFsConstants.InvalidIndex;

    public uint FragmentOffset { get; set; }

    /// <summary>Bytes not stored because their blocks were all zeros.</summary>
    public ulong SparseBytes
    {
        get => _blocksOf?.SparseBytes ?? _sparseBytes;
        set => _sparseBytes = value;
    }

    void IBlockPlacement.Placed(int index, ulong start, uint size)
    {
        if (index == 0)
            _blocksStart = start;
        _blockSizes[index] = size;
    }
}
