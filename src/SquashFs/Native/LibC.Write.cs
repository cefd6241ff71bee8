using System.Runtime.InteropServices;

namespace Xar.SquashFs.Native;

/// <summary>
/// The libc calls extraction needs. Names are raw bytes (a SquashFS name need not be UTF-8), so
/// every path argument is a NUL-terminated byte pointer, and files are created relative to a
/// directory descriptor, never through a path that could hold a symlink.
/// </summary>
internal static unsafe partial class LibC
{
    public const int O_RDONLY = 0;
    public const int O_WRONLY = 1;
    public const int O_CREAT = 0x40;
    public const int O_EXCL = 0x80;
    public const int O_NOFOLLOW = 0x20000;
    public const int O_DIRECTORY = 0x10000;
    public const int O_CLOEXEC = 0x80000;
    public const int O_PATH = 0x200000;

    public const int AT_FDCWD = -100;
    public const int AT_SYMLINK_NOFOLLOW = 0x100;

    public const uint S_IFIFO = 0x1000;
    public const uint S_IFCHR = 0x2000;
    public const uint S_IFBLK = 0x6000;
    public const uint S_IFSOCK = 0xC000;


    public const int XATTR_CREATE = 1;

    [StructLayout(LayoutKind.Sequential)]
    public struct Timespec
    {
        public long Seconds;
        public long Nanoseconds;
    }

    [LibraryImport("libc", EntryPoint = "openat", SetLastError = true)]
    public static partial int OpenAt(int dirFd, byte* path, int flags, uint mode);


    [LibraryImport("libc", EntryPoint = "mkdirat", SetLastError = true)]
    public static partial int MkdirAt(int dirFd, byte* path, uint mode);

    [LibraryImport("libc", EntryPoint = "symlinkat", SetLastError = true)]
    public static partial int SymlinkAt(byte* target, int dirFd, byte* path);

    [LibraryImport("libc", EntryPoint = "mknodat", SetLastError = true)]
    public static partial int MknodAt(int dirFd, byte* path, uint mode, ulong device);

    [LibraryImport("libc", EntryPoint = "linkat", SetLastError = true)]
    public static partial int LinkAt(int oldDirFd, byte* oldPath, int newDirFd, byte* newPath, int flags);

    [LibraryImport("libc", EntryPoint = "fchownat", SetLastError = true)]
    public static partial int FchownAt(int dirFd, byte* path, uint uid, uint gid, int flags);

    [LibraryImport("libc", EntryPoint = "fchown", SetLastError = true)]
    public static partial int Fchown(int fd, uint uid, uint gid);

    [LibraryImport("libc", EntryPoint = "fchmod", SetLastError = true)]
    public static partial int Fchmod(int fd, uint mode);

    [LibraryImport("libc", EntryPoint = "fchmodat", SetLastError = true)]
    public static partial int FchmodAt(int dirFd, byte* path, uint mode, int flags);

    [LibraryImport("libc", EntryPoint = "futimens", SetLastError = true)]
    public static partial int Futimens(int fd, Timespec* times);

    [LibraryImport("libc", EntryPoint = "utimensat", SetLastError = true)]
    public static partial int UtimensAt(int dirFd, byte* path, Timespec* times, int flags);

    [LibraryImport("libc", EntryPoint = "fsetxattr", SetLastError = true)]
    public static partial int Fsetxattr(int fd, byte* name, byte* value, nuint size, int flags);

    [LibraryImport("libc", EntryPoint = "lsetxattr", SetLastError = true)]
    public static partial int Lsetxattr(byte* path, byte* name, byte* value, nuint size, int flags);

    [LibraryImport("libc", EntryPoint = "pwrite64", SetLastError = true)]
    public static partial nint Pwrite(int fd, byte* buffer, nuint count, long offset);

    [LibraryImport("libc", EntryPoint = "ftruncate64", SetLastError = true)]
    public static partial int Ftruncate(int fd, long length);

    [LibraryImport("libc", EntryPoint = "geteuid")]
    public static partial uint GetEuid();

    [LibraryImport("libc", EntryPoint = "getegid")]
    public static partial uint GetEgid();

    /// <summary>glibc's makedev: the dev_t mknod wants.</summary>
    public static ulong MakeDev(uint major, uint minor) =>
        ((ulong)(major & 0xFFFFF000) << 32) | ((ulong)(major & 0xFFF) << 8)
        | ((ulong)(minor & 0xFFFFFF00) << 12) | (minor & 0xFF);

}

internal static unsafe partial class LibC
{
    public const int AT_REMOVEDIR = 0x200;
    public const uint RENAME_NOREPLACE = 1;

    [LibraryImport("libc", EntryPoint = "unlinkat", SetLastError = true)]
    public static partial int UnlinkAt(int dirFd, byte* path, int flags);

    [LibraryImport("libc", EntryPoint = "fdopendir", SetLastError = true)]
    public static partial nint FdOpenDir(int fd);


    [LibraryImport("libc", EntryPoint = "renameat2", SetLastError = true)]
    public static partial int RenameAt2(int oldDirFd, byte* oldPath, int newDirFd, byte* newPath, uint flags);
}
