using Xar.SquashFs.Format;

namespace Xar.SquashFs.Writing;

/// <summary>Where a regular file's data lies in the image: its blocks and its tail in a fragment.</summary>
internal sealed class FileData(ulong size, int blockCount) : IBlockPlacement
{
    public ulong Size { get; } = size;

    /// <summary>Image offset of the first block.</summary>
    public ulong BlocksStart { get; set; }

    /// <summary>On-disk block sizes, bit 24 = stored raw, 0 = sparse (all-zero) block.</summary>
    public uint[] BlockSizes { get; } = blockCount == 0 ? [] : new uint[blockCount];

    public uint FragmentIndex { get; set; } = SquashFsConstants.InvalidIndex;

    public uint FragmentOffset { get; set; }

    /// <summary>Bytes not stored because their blocks were all zeros.</summary>
    public ulong SparseBytes { get; set; }

    void IBlockPlacement.Placed(int index, ulong start, uint size)
    {
        if (index == 0)
            BlocksStart = start;
        BlockSizes[index] = size;
    }
}
