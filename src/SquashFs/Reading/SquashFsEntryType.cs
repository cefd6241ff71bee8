namespace Xar.SquashFs;

/// <summary>What an entry in an image is (extended and basic inode variants map to the same type).</summary>
public enum SquashFsEntryType
{
    Directory,
    RegularFile,
    SymbolicLink,
    BlockDevice,
    CharacterDevice,
    Fifo,
    Socket,
}
