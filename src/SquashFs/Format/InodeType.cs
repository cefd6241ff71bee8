namespace Xar.SquashFs.Format;

/// <summary>Inode type codes. The extended ("long") variants carry extra fields (xattrs, nlink, large sizes).</summary>
public enum InodeType : ushort
{
    Directory = 1,
    File = 2,
    Symlink = 3,
    BlockDevice = 4,
    CharDevice = 5,
    Fifo = 6,
    Socket = 7,
    ExtendedDirectory = 8,
    ExtendedFile = 9,
    ExtendedSymlink = 10,
    ExtendedBlockDevice = 11,
    ExtendedCharDevice = 12,
    ExtendedFifo = 13,
    ExtendedSocket = 14,
}

public static class InodeTypeExtensions
{
    /// <summary>The basic type of an extended type (ExtendedFile → File); basic types are returned as they are.</summary>
    public static InodeType ToBasic(this InodeType type) => type >= InodeType.ExtendedDirectory ? type - 7 : type;

    public static InodeType ToExtended(this InodeType type) => type < InodeType.ExtendedDirectory ? type + 7 : type;

    public static bool IsExtended(this InodeType type) => type >= InodeType.ExtendedDirectory;

    public static bool IsValid(this InodeType type) => type >= InodeType.Directory && type <= InodeType.ExtendedSocket;

    /// <summary>The S_IFMT bits for the type.</summary>
    public static uint ToFileTypeBits(this InodeType type) => type.ToBasic() switch
    {
        InodeType.Directory => 0x4000,
        InodeType.File => 0x8000,
        InodeType.Symlink => 0xA000,
        InodeType.BlockDevice => 0x6000,
        InodeType.CharDevice => 0x2000,
        InodeType.Fifo => 0x1000,
        InodeType.Socket => 0xC000,
        _ => 0,
    };
}
