using System.Runtime.InteropServices;

namespace Xar.Posix;

/// <summary>File status: statx (one layout on every Linux architecture, unlike struct stat), statfs, statvfs.</summary>
public static unsafe partial class LibC
{
    public const int AT_FDCWD = -100, AT_SYMLINK_NOFOLLOW = 0x100, AT_REMOVEDIR = 0x200, AT_NO_AUTOMOUNT = 0x800, AT_EMPTY_PATH = 0x1000, AT_SYMLINK_FOLLOW = 0x400;
    /// <summary>statx: the attributes the kernel has, without asking the file system (FUSE: no request, so no wait for INIT).</summary>
    public const int AT_STATX_DONT_SYNC = 0x4000;
    public const uint STATX_BASIC_STATS = 0x7ff;
    /// <summary>statx masks for <see cref="Statx.MountId"/>: the mount's id (reused once it is gone), or its 64-bit id that never is (Linux 6.8+).</summary>
    public const uint STATX_MNT_ID = 0x1000, STATX_MNT_ID_UNIQUE = 0x4000;
    public const uint S_IFMT = 0xF000, S_IFIFO = 0x1000, S_IFCHR = 0x2000, S_IFDIR = 0x4000, S_IFBLK = 0x6000, S_IFREG = 0x8000,
        S_IFLNK = 0xA000, S_IFSOCK = 0xC000;
    public const long FUSE_SUPER_MAGIC = 0x65735546, SQUASHFS_MAGIC = 0x73717368;
    public const ulong ST_RDONLY = 1, ST_NOSUID = 2, ST_NODEV = 4, ST_NOEXEC = 8;

    [StructLayout(LayoutKind.Sequential)]
    public struct StatxTimestamp
    {
        public long Seconds;
        public uint Nanoseconds;
        private readonly int _reserved;
    }

    /// <summary>struct statx (linux/stat.h), 256 bytes.</summary>
    [StructLayout(LayoutKind.Sequential, Size = 256)]
    public struct Statx
    {
        public uint Mask;
        public uint BlockSize;
        public ulong Attributes;
        public uint Nlink;
        public uint Uid;
        public uint Gid;
        public ushort Mode;
        private readonly ushort _spare0;
        public ulong Ino;
        public ulong Size;
        public ulong Blocks;
        public ulong AttributesMask;
        public StatxTimestamp Atime, Btime, Ctime, Mtime;
        public uint RdevMajor, RdevMinor, DevMajor, DevMinor;
        /// <summary>stx_mnt_id: set when <see cref="Mask"/> has STATX_MNT_ID or STATX_MNT_ID_UNIQUE.</summary>
        public ulong MountId;

        public readonly uint Type => Mode & S_IFMT;
        public readonly uint Permissions => Mode & 0xFFFu;
        public readonly bool IsDirectory => Type == S_IFDIR;
        public readonly bool IsRegularFile => Type == S_IFREG;
        public readonly bool IsSymlink => Type == S_IFLNK;

        /// <summary>On the same file system (device) as <paramref name="other"/>.</summary>
        public readonly bool IsOnDeviceOf(in Statx other) => DevMajor == other.DevMajor && DevMinor == other.DevMinor;

        /// <summary>The same file (device and inode) as <paramref name="other"/>.</summary>
        public readonly bool IsSameFileAs(in Statx other) => Ino == other.Ino && IsOnDeviceOf(other);
    }

    [LibraryImport(Library, EntryPoint = "statx", SetLastError = true)]
    public static partial int StatxAt(int dirFd, byte* path, int flags, uint mask, Statx* buffer);

    [LibraryImport(Library, EntryPoint = "statx", StringMarshalling = StringMarshalling.Custom, StringMarshallingCustomType = typeof(LosslessUtf8Marshaller), SetLastError = true)]
    public static partial int StatxAt(int dirFd, string path, int flags, uint mask, out Statx buffer);

    /// <summary>statx of an open descriptor.</summary>
    public static int FStatx(int fd, out Statx buffer)
    {
        byte empty = 0;
        fixed (Statx* b = &buffer)
            return StatxAt(fd, &empty, AT_EMPTY_PATH, STATX_BASIC_STATS, b);
    }

    /// <summary>statfs into a buffer of at least 120 bytes; f_type is the first word.</summary>
    [LibraryImport(Library, EntryPoint = "statfs", StringMarshalling = StringMarshalling.Custom, StringMarshallingCustomType = typeof(LosslessUtf8Marshaller), SetLastError = true)]
    public static partial int StatFs(string path, byte* buffer);

    [LibraryImport(Library, EntryPoint = "fstatfs", SetLastError = true)]
    public static partial int FStatFs(int fd, byte* buffer);

    /// <summary>statvfs, for f_flag (ST_NOEXEC), word 9 of the 64-bit struct.</summary>
    [LibraryImport(Library, EntryPoint = "statvfs", StringMarshalling = StringMarshalling.Custom, StringMarshallingCustomType = typeof(LosslessUtf8Marshaller), SetLastError = true)]
    public static partial int StatVfs(string path, byte* buffer);

    [LibraryImport(Library, EntryPoint = "fstatvfs", SetLastError = true)]
    public static partial int FStatVfs(int fd, byte* buffer);
}
