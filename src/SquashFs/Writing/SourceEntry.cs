namespace Xar.SquashFs.Writing;

/// <summary>One name in a directory. Several entries share an <see cref="SourceInode"/> when hard linked.</summary>
internal sealed class SourceEntry(byte[] name, SourceInode inode)
{
    public byte[] Name { get; } = name;

    public SourceInode Inode { get; } = inode;
}
