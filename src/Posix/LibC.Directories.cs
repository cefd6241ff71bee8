using System.Runtime.InteropServices;

namespace Xar.Posix;

/// <summary>Names in directories: create, list, link, rename, remove.</summary>
public static unsafe partial class LibC
{
    public const uint RENAME_NOREPLACE = 1;
    public const byte DT_UNKNOWN = 0, DT_DIR = 4, DT_LNK = 10;
    /// <summary>Offset of d_name in glibc's struct dirent64 (after d_ino u64, d_off s64, d_reclen u16, d_type u8).</summary>
    public const int DirentNameOffset = 19;
    public const int DirentTypeOffset = 18;

    [LibraryImport(Library, EntryPoint = "chdir", StringMarshalling = StringMarshalling.Custom, StringMarshallingCustomType = typeof(LosslessUtf8Marshaller), SetLastError = true)]
    public static partial int Chdir(string path);

    [LibraryImport(Library, EntryPoint = "mkdirat", SetLastError = true)]
    public static partial int MkdirAt(int dirFd, byte* path, uint mode);

    [LibraryImport(Library, EntryPoint = "mkdir", StringMarshalling = StringMarshalling.Custom, StringMarshallingCustomType = typeof(LosslessUtf8Marshaller), SetLastError = true)]
    public static partial int Mkdir(string path, int mode);

    [LibraryImport(Library, EntryPoint = "opendir", SetLastError = true)]
    public static partial nint OpenDir(byte* path);

    [LibraryImport(Library, EntryPoint = "fdopendir", SetLastError = true)]
    public static partial nint FdOpenDir(int fd);

    /// <summary>Returns a struct dirent64*, or null at the end or on error.</summary>
    [LibraryImport(Library, EntryPoint = "readdir64", SetLastError = true)]
    public static partial byte* ReadDir(nint dir);

    [LibraryImport(Library, EntryPoint = "closedir", SetLastError = true)]
    public static partial int CloseDir(nint dir);

    [LibraryImport(Library, EntryPoint = "readlink", SetLastError = true)]
    public static partial nint ReadLink(byte* path, byte* buffer, nint size);

    [LibraryImport(Library, EntryPoint = "readlinkat", SetLastError = true)]
    public static partial nint ReadLinkAt(int dirFd, byte* path, byte* buffer, nint size);

    [LibraryImport(Library, EntryPoint = "symlinkat", SetLastError = true)]
    public static partial int SymlinkAt(byte* target, int dirFd, byte* path);

    [LibraryImport(Library, EntryPoint = "mknodat", SetLastError = true)]
    public static partial int MknodAt(int dirFd, byte* path, uint mode, ulong device);

    [LibraryImport(Library, EntryPoint = "linkat", SetLastError = true)]
    public static partial int LinkAt(int oldDirFd, byte* oldPath, int newDirFd, byte* newPath, int flags);

    [LibraryImport(Library, EntryPoint = "unlinkat", SetLastError = true)]
    public static partial int UnlinkAt(int dirFd, byte* path, int flags);

    [LibraryImport(Library, EntryPoint = "unlink", StringMarshalling = StringMarshalling.Custom, StringMarshallingCustomType = typeof(LosslessUtf8Marshaller), SetLastError = true)]
    public static partial int Unlink(string path);

    [LibraryImport(Library, EntryPoint = "rmdir", StringMarshalling = StringMarshalling.Custom, StringMarshallingCustomType = typeof(LosslessUtf8Marshaller), SetLastError = true)]
    public static partial int Rmdir(string path);

    [LibraryImport(Library, EntryPoint = "renameat2", SetLastError = true)]
    public static partial int RenameAt2(int oldDirFd, byte* oldPath, int newDirFd, byte* newPath, uint flags);

    [LibraryImport(Library, EntryPoint = "rename", StringMarshalling = StringMarshalling.Custom, StringMarshallingCustomType = typeof(LosslessUtf8Marshaller), SetLastError = true)]
    public static partial int Rename(string from, string to);

    /// <summary>glibc's makedev: the dev_t mknod wants.</summary>
    public static ulong MakeDev(uint major, uint minor) =>
        ((ulong)(major & 0xFFFFF000) << 32) | ((ulong)(major & 0xFFF) << 8)
        | ((ulong)(minor & 0xFFFFFF00) << 12) | (minor & 0xFF);
}
