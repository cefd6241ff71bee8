namespace Xar.SquashFs.Compression;

/// <summary>xz BCJ filters (branch converters), as mksquashfs -Xbcj names them.</summary>
[Flags]
public enum XzFilters
{
    None = 0,
    X86 = 1,
    PowerPC = 2,
    IA64 = 4,
    Arm = 8,
    ArmThumb = 16,
    Sparc = 32,
    Arm64 = 64,
}
