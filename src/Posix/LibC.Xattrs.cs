using System.Runtime.InteropServices;

namespace Xar.Posix;

/// <summary>Extended attributes, of a path (l*: never following a link) or of a descriptor.</summary>
public static unsafe partial class LibC
{
    public const int XATTR_CREATE = 1;

    [LibraryImport(Library, EntryPoint = "llistxattr", SetLastError = true)]
    public static partial nint LListXattr(byte* path, byte* list, nint size);

    [LibraryImport(Library, EntryPoint = "lgetxattr", SetLastError = true)]
    public static partial nint LGetXattr(byte* path, byte* name, byte* value, nint size);

    [LibraryImport(Library, EntryPoint = "lsetxattr", SetLastError = true)]
    public static partial int Lsetxattr(byte* path, byte* name, byte* value, nuint size, int flags);

    [LibraryImport(Library, EntryPoint = "fsetxattr", SetLastError = true)]
    public static partial int Fsetxattr(int fd, byte* name, byte* value, nuint size, int flags);

    /// <summary>struct xattr_args (Linux 6.13+): where getxattrat writes the value.</summary>
    [StructLayout(LayoutKind.Sequential)]
    private struct XattrArgs
    {
        public ulong Value;
        public uint Size;
        public uint Flags;
    }

    // The same numbers on x86_64 and on the generic table (arm64): these calls came after the tables were unified.
    private const nint SysGetXattrAt = 464, SysListXattrAt = 465;

    [LibraryImport(Library, EntryPoint = "syscall", SetLastError = true)]
    private static partial nint Syscall(nint number, nint a1, nint a2, nint a3, nint a4, nint a5, nint a6);

    /// <summary>
    /// listxattrat(2) (Linux 6.13+): the attributes of <paramref name="path"/> below the directory <paramref name="dirFd"/>;
    /// -1 with ENOSYS on an older kernel (or EPERM where a seccomp filter does not know it).
    /// </summary>
    public static nint ListXattrAt(int dirFd, byte* path, int atFlags, byte* list, nint size) =>
        Syscall(SysListXattrAt, dirFd, (nint)path, atFlags, (nint)list, size, 0);

    /// <summary>getxattrat(2) (Linux 6.13+), as <see cref="ListXattrAt"/>.</summary>
    public static nint GetXattrAt(int dirFd, byte* path, int atFlags, byte* name, byte* value, nint size)
    {
        var args = new XattrArgs { Value = (ulong)value, Size = (uint)size };
        return Syscall(SysGetXattrAt, dirFd, (nint)path, atFlags, (nint)name, (nint)(&args), sizeof(XattrArgs));
    }
}
