namespace Xar.SquashFs.Writing;

/// <summary>Whoever submitted a block to the <see cref="BlockPipeline"/> learns through this where it went.</summary>
internal interface IBlockPlacement
{
    /// <summary>
    /// Block <paramref name="index"/> now lies at image offset <paramref name="start"/> with the on-disk
    /// size word <paramref name="size"/> (bit 24 = stored raw, 0 = sparse). Called by the writer
    /// thread, in the order the blocks were submitted.
    /// </summary>
    void Placed(int index, ulong start, uint size);
}
