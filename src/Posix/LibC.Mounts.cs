using System.Runtime.InteropServices;

namespace Xar.Posix;

/// <summary>Mounting and unmounting.</summary>
public static unsafe partial class LibC
{
    public const int MNT_FORCE = 1, MNT_DETACH = 2, UMOUNT_NOFOLLOW = 8;
    public const ulong MS_RDONLY = 1, MS_NOSUID = 2, MS_NODEV = 4;

    [LibraryImport(Library, EntryPoint = "umount2", StringMarshalling = StringMarshalling.Custom, StringMarshallingCustomType = typeof(LosslessUtf8Marshaller), SetLastError = true)]
    public static partial int Umount2(string target, int flags);

    [LibraryImport(Library, EntryPoint = "mount", StringMarshalling = StringMarshalling.Custom, StringMarshallingCustomType = typeof(LosslessUtf8Marshaller), SetLastError = true)]
    public static partial int Mount(string source, string target, string fileSystemType, nuint flags, nint data);

    /// <summary>Paths as bytes (NUL-terminated): a mount point need not be UTF-8.</summary>
    [LibraryImport(Library, EntryPoint = "umount2", SetLastError = true)]
    public static partial int Umount2(byte* target, int flags);

    [LibraryImport(Library, EntryPoint = "mount", SetLastError = true)]
    public static partial int Mount(byte* source, byte* target, byte* fileSystemType, nuint flags, nint data);
}
