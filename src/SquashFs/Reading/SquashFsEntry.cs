using System.Text;
using Xar.SquashFs.Format;
using Xar.SquashFs.Reading;

namespace Xar.SquashFs;

/// <summary>
/// One entry of a SquashFS image: a name in a directory and the inode it refers to. A plain
/// object: reading its data or xattrs goes through the <see cref="SquashFsImage"/> it came from.
/// Names are bytes (anything but '/' and NUL); <see cref="Name"/> decodes them as UTF-8.
/// </summary>
public sealed class SquashFsEntry
{
    internal SquashFsEntry(byte[] nameBytes, Inode inode, uint uid, uint gid, SquashFsEntry? parent)
    {
        NameBytes = nameBytes;
        Inode = inode;
        Uid = uid;
        Gid = gid;
        Parent = parent;
    }

    internal Inode Inode { get; }

    /// <summary>The directory this entry was found in (null for the root only).</summary>
    internal SquashFsEntry? Parent { get; }

    /// <summary>The name as stored (empty for the root).</summary>
    public byte[] NameBytes { get; }

    /// <summary>
    /// Whether the name is one path component that can lead nowhere else: not empty, not "." or "..", without '/' or
    /// NUL. Only a corrupt or hostile image has others (extract and verify refuse it).
    /// </summary>
    public bool HasSafeName => EntryName.IsSafe(NameBytes);

    /// <summary>The name decoded as UTF-8 (bytes that are not UTF-8 become U+FFFD).</summary>
    // Decoded when asked: walks and listings of huge directories never need it.
    public string Name => Encoding.UTF8.GetString(NameBytes);

    /// <summary>Path from the image root, without a leading '/'; "" for the root.</summary>
    // Built from the parent chain when asked, never kept: a deep tree's entries would otherwise
    // hold paths whose total size grows with the square of the depth.
    public string FullName
    {
        get
        {
            if (Parent is null)
                return "";
            int length = -1;
            for (var e = this; e.Parent is not null; e = e.Parent)
                length += e.NameBytes.Length + 1;
            var path = new byte[length];
            int end = length;
            for (var e = this; e.Parent is not null; e = e.Parent)
            {
                end -= e.NameBytes.Length;
                e.NameBytes.CopyTo(path, end);
                if (end > 0)
                    path[--end] = (byte)'/';
            }
            return Encoding.UTF8.GetString(path);
        }
    }

    public SquashFsEntryType EntryType => Inode.BasicType switch
    {
        InodeType.Directory => SquashFsEntryType.Directory,
        InodeType.File => SquashFsEntryType.RegularFile,
        InodeType.Symlink => SquashFsEntryType.SymbolicLink,
        InodeType.BlockDevice => SquashFsEntryType.BlockDevice,
        InodeType.CharDevice => SquashFsEntryType.CharacterDevice,
        InodeType.Fifo => SquashFsEntryType.Fifo,
        _ => SquashFsEntryType.Socket,
    };

    /// <summary>Permission bits, including setuid, setgid and sticky.</summary>
    public UnixFileMode Mode => (UnixFileMode)(Inode.Permissions & 0xFFF);

    public uint Uid { get; }

    public uint Gid { get; }

    /// <summary>Seconds since the epoch, as stored (unsigned 32-bit).</summary>
    public uint ModificationTimeSeconds => Inode.Mtime;

    public DateTimeOffset Mtime => DateTimeOffset.FromUnixTimeSeconds(Inode.Mtime);

    /// <summary>File size; symlink target length; a directory's listing size as stored.</summary>
    public long Length => Inode.BasicType switch
    {
        InodeType.File => Inode.FileSize,
        InodeType.Symlink => Inode.SymlinkTarget.Length,
        InodeType.Directory => Inode.DirectorySize,
        _ => 0,
    };

    /// <summary>Symlink target bytes (empty for other types).</summary>
    public byte[] LinkNameBytes => Inode.SymlinkTarget;

    /// <summary>Symlink target decoded as UTF-8, or null when the entry is not a symlink.</summary>
    public string? LinkName => EntryType == SquashFsEntryType.SymbolicLink ? Encoding.UTF8.GetString(Inode.SymlinkTarget) : null;

    public uint DeviceMajor => Inode.DeviceMajor;

    public uint DeviceMinor => Inode.DeviceMinor;

    public uint InodeNumber => Inode.InodeNumber;

    public uint HardLinkCount => Inode.Nlink;

    public bool HasXattrs => Inode.HasXattrs;

    public override string ToString() => FullName.Length == 0 ? "/" : FullName;
}
