using System.Runtime.InteropServices;

namespace Xar.Tests;

/// <summary>
/// The libc calls the tree comparer walks a tree with. Every call names an entry by a directory
/// descriptor and one raw name (NUL-terminated bytes), so names that are not UTF-8 and paths
/// longer than PATH_MAX reach the kernel unchanged. Our own library's native layer is not used:
/// the comparer judges that library and must not share its code.
/// </summary>
internal static unsafe partial class TreeNative
{
    private const string Library = "libc";

    public const int EINTR = 4;
    public const int ERANGE = 34;
    public const int ENODATA = 61;
    public const int ENOTSUP = 95;

    public const int ORdOnly = 0;
    public const int ODirectory = 0x10000;
    public const int ONoFollow = 0x20000;
    public const int OCloExec = 0x80000;
    public const int ONoCtty = 0x100;

    public const int AtSymlinkNoFollow = 0x100;
    public const int AtNoAutomount = 0x800;
    public const uint StatxBasicStats = 0x7ff;

    public const int SIfMt = 0xF000;
    public const int SIfSock = 0xC000;
    public const int SIfLnk = 0xA000;
    public const int SIfReg = 0x8000;
    public const int SIfBlk = 0x6000;
    public const int SIfDir = 0x4000;
    public const int SIfChr = 0x2000;
    public const int SIfIfo = 0x1000;

    /// <summary>struct statx (linux/stat.h): 256 bytes, the same layout on every architecture.</summary>
    [StructLayout(LayoutKind.Explicit, Size = 256)]
    public struct Statx
    {
        [FieldOffset(16)] public uint Nlink;
        [FieldOffset(20)] public uint Uid;
        [FieldOffset(24)] public uint Gid;
        [FieldOffset(28)] public ushort Mode;
        [FieldOffset(32)] public ulong Ino;
        [FieldOffset(40)] public ulong Size;
        [FieldOffset(48)] public ulong Blocks;
        [FieldOffset(112)] public long MtimeSeconds;
        [FieldOffset(128)] public uint RdevMajor;
        [FieldOffset(132)] public uint RdevMinor;
        [FieldOffset(136)] public uint DevMajor;
        [FieldOffset(140)] public uint DevMinor;
    }

    /// <summary>struct linux_dirent64: d_ino u64, d_off s64, d_reclen u16, d_type u8, then the name.</summary>
    public const int DirentReclenOffset = 16;
    public const int DirentNameOffset = 19;

    [LibraryImport(Library, EntryPoint = "open", SetLastError = true)]
    public static partial int Open(byte* path, int flags, int mode);

    [LibraryImport(Library, EntryPoint = "openat", SetLastError = true)]
    public static partial int OpenAt(int dirFd, byte* name, int flags, int mode);

    [LibraryImport(Library, EntryPoint = "close", SetLastError = true)]
    public static partial int Close(int fd);

    [LibraryImport(Library, EntryPoint = "read", SetLastError = true)]
    public static partial nint Read(int fd, byte* buffer, nint count);

    [LibraryImport(Library, EntryPoint = "getdents64", SetLastError = true)]
    public static partial nint GetDents64(int fd, byte* buffer, nint count);

    [LibraryImport(Library, EntryPoint = "statx", SetLastError = true)]
    public static partial int StatxAt(int dirFd, byte* name, int flags, uint mask, Statx* result);

    [LibraryImport(Library, EntryPoint = "readlinkat", SetLastError = true)]
    public static partial nint ReadLinkAt(int dirFd, byte* name, byte* buffer, nint size);

    [LibraryImport(Library, EntryPoint = "llistxattr", SetLastError = true)]
    public static partial nint LListXattr(byte* path, byte* list, nint size);

    [LibraryImport(Library, EntryPoint = "lgetxattr", SetLastError = true)]
    public static partial nint LGetXattr(byte* path, byte* name, byte* value, nint size);

    public static int LastError => Marshal.GetLastPInvokeError();

    public static string ErrorText(int errno) => Marshal.GetPInvokeErrorMessage(errno);

    /// <summary><paramref name="bytes"/> followed by a NUL, ready to pass as a C string.</summary>
    public static byte[] CString(ReadOnlySpan<byte> bytes)
    {
        var c = new byte[bytes.Length + 1];
        bytes.CopyTo(c);
        return c;
    }
}
