using Xar.SquashFs.Format;

namespace Xar.SquashFs.Reading;

/// <summary>
/// Where a regular file's bytes are: its blocks (on-disk position and size word of each, in order,
/// without gaps) and the tail in a fragment block. Checked against the image when built.
/// </summary>
internal sealed class FileLayout
{
    private readonly long[] _positions;

    public FileLayout(Inode inode, uint[] sizes, DataBlockReader data, long dataEnd)
    {
        Inode = inode;
        SizeWords = sizes;
        BlockSize = data.BlockSize;
        _positions = new long[sizes.Length];
        long p = inode.BlocksStart;
        for (int i = 0; i < sizes.Length; i++)
        {
            data.CheckSizeWord(sizes[i], new Subject("inode {0} block {1}", inode.InodeNumber, (ulong)i));
            _positions[i] = p;
            p += sizes[i] & 0x00FFFFFF;
            if (p > dataEnd)
                throw new SquashFsCorruptException($"inode {inode.InodeNumber}: data blocks run past the data area (ends at {dataEnd})");
        }
    }

    public Inode Inode { get; }

    public uint[] SizeWords { get; }

    public int BlockSize { get; }

    public long Length => Inode.FileSize;

    public int BlockCount => SizeWords.Length;

    public long BlockPosition(int index) => _positions[index];

    /// <summary>Bytes block <paramref name="index"/> decodes to (the last block of a file without a fragment may be short).</summary>
    public int BlockLength(int index) => (int)Math.Min(BlockSize, Length - (long)index * BlockSize);

    public int TailLength => Inode.HasFragment ? (int)(Length - (long)BlockCount * BlockSize) : 0;

    public long TailOffset => (long)BlockCount * BlockSize;

    public bool IsSparse(int index) => (SizeWords[index] & 0x00FFFFFF) == 0;

    /// <summary>Decodes block <paramref name="index"/> into <paramref name="destination"/> (at least BlockSize bytes).</summary>
    public void ReadBlock(DataBlockReader data, int index, Span<byte> destination) =>
        data.ReadBlock(_positions[index], SizeWords[index], destination, BlockLength(index), new Subject("inode {0} block {1}", Inode.InodeNumber, (ulong)index));

    public void ReadTail(DataBlockReader data, Span<byte> destination) =>
        data.ReadFragment(Inode.FragmentIndex, Inode.FragmentOffset, destination[..TailLength], new Subject("inode {0} tail", Inode.InodeNumber));
}
