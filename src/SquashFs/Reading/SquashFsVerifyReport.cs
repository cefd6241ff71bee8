namespace Xar.SquashFs;

/// <summary>What <see cref="SquashFsImage.Verify"/> read.</summary>
public sealed class SquashFsVerifyReport
{
    public long Inodes { get; internal set; }
    public long Directories { get; internal set; }
    /// <summary>Regular file entries (hard links counted once per name).</summary>
    public long Files { get; internal set; }
    public long Symlinks { get; internal set; }
    /// <summary>Devices, fifos and sockets.</summary>
    public long Others { get; internal set; }
    public long FileBytes { get; internal set; }
    public long DataBlocks { get; internal set; }
    public long FragmentBlocks { get; internal set; }
    public long MetadataBlocks { get; internal set; }
}
