using System.Runtime.InteropServices;

namespace Xar.SquashFs.Native;

/// <summary>
/// The libc calls the image writer reads a source tree with. Paths are NUL-terminated raw bytes,
/// never UTF-16 strings: a Linux name is any byte but '/' and NUL, and must reach the kernel as it is.
/// </summary>
internal static unsafe partial class LibC
{

    public const int AtFdCwd = -100;
    public const int AtSymlinkNoFollow = 0x100;
    public const int AtNoAutomount = 0x800;
    public const int AtEmptyPath = 0x1000;
    public const uint StatxBasicStats = 0x7ff;

    public const int ORdOnly = 0;
    public const int ONoFollow = 0x20000;
    public const int OCloExec = 0x80000;
    public const int ONoAtime = 0x40000;
    public const int ODirectory = 0x10000;

    public const int SeekData = 3;
    public const int SeekHole = 4;


    /// <summary>struct statx (linux/stat.h), 256 bytes; only the fields the writer uses are named.</summary>
    [StructLayout(LayoutKind.Explicit, Size = 256)]
    public struct Statx
    {
        [FieldOffset(0)] public uint Mask;
        [FieldOffset(16)] public uint Nlink;
        [FieldOffset(20)] public uint Uid;
        [FieldOffset(24)] public uint Gid;
        [FieldOffset(28)] public ushort Mode;
        [FieldOffset(32)] public ulong Ino;
        [FieldOffset(40)] public ulong Size;
        [FieldOffset(48)] public ulong Blocks;
        [FieldOffset(96)] public long CtimeSeconds;
        [FieldOffset(104)] public uint CtimeNanoseconds;
        [FieldOffset(112)] public long MtimeSeconds;
        [FieldOffset(120)] public uint MtimeNanoseconds;
        [FieldOffset(128)] public uint RdevMajor;
        [FieldOffset(132)] public uint RdevMinor;
        [FieldOffset(136)] public uint DevMajor;
        [FieldOffset(140)] public uint DevMinor;
    }

    [LibraryImport(Library, EntryPoint = "statx", SetLastError = true)]
    public static partial int StatxCall(int dirfd, byte* path, int flags, uint mask, Statx* buffer);

    [LibraryImport(Library, EntryPoint = "opendir", SetLastError = true)]
    public static partial nint OpenDir(byte* path);


    [LibraryImport(Library, EntryPoint = "readlink", SetLastError = true)]
    public static partial nint ReadLink(byte* path, byte* buffer, nint size);

    [LibraryImport(Library, EntryPoint = "llistxattr", SetLastError = true)]
    public static partial nint LListXattr(byte* path, byte* list, nint size);

    [LibraryImport(Library, EntryPoint = "lgetxattr", SetLastError = true)]
    public static partial nint LGetXattr(byte* path, byte* name, byte* value, nint size);

    [LibraryImport(Library, EntryPoint = "open", SetLastError = true)]
    public static partial int Open(byte* path, int flags, int mode);


    [LibraryImport(Library, EntryPoint = "lseek", SetLastError = true)]
    public static partial long LSeek(int fd, long offset, int whence);
}
