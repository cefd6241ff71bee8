using System.Runtime.InteropServices;

namespace Xar.SquashFs.Native;

/// <summary>
/// libc calls shared by the tree scanner (LibC.Read.cs) and extraction (LibC.Write.cs): errno
/// values, descriptors and directory streams. Source-generated P/Invoke, so the AOT launcher can link it.
/// </summary>
internal static unsafe partial class LibC
{
    private const string Library = "libc";

    public const int EPERM = 1;
    public const int ENOENT = 2;
    public const int EINTR = 4;
    public const int ENXIO = 6;
    public const int EACCES = 13;
    public const int EEXIST = 17;
    public const int ERANGE = 34;
    public const int ENODATA = 61;
    public const int ENOTSUP = 95;

    public const byte DT_DIR = 4;
    /// <summary>Offset of d_name in glibc's struct dirent64 (after d_ino u64, d_off s64, d_reclen u16, d_type u8).</summary>
    public const int DirentNameOffset = 19;
    public const int DirentTypeOffset = 18;

    [LibraryImport(Library, EntryPoint = "close", SetLastError = true)]
    public static partial int Close(int fd);

    /// <summary>Returns a struct dirent64*, or null at the end or on error.</summary>
    [LibraryImport(Library, EntryPoint = "readdir64", SetLastError = true)]
    public static partial byte* ReadDir(nint dir);

    [LibraryImport(Library, EntryPoint = "closedir", SetLastError = true)]
    public static partial int CloseDir(nint dir);

    public static int LastError => Marshal.GetLastPInvokeError();

    public static string ErrorText(int errno) => Marshal.GetPInvokeErrorMessage(errno);
}
