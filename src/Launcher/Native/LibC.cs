using System.Runtime.InteropServices;

namespace Xar.Launcher.Native;

/// <summary>The libc calls of the launcher's own steps (read the header, print, set the environment). Source-generated, AOT-safe.</summary>
internal static unsafe partial class LibC
{
    private const string Libc = "libc";

    public const int O_RDONLY = 0, O_CLOEXEC = 0x80000, O_NOCTTY = 0x100;
    public const int EINTR = 4, ENOENT = 2, ENOTDIR = 20, EISDIR = 21;

    [LibraryImport(Libc, EntryPoint = "open", StringMarshalling = StringMarshalling.Utf8, SetLastError = true)]
    public static partial int Open(string path, int flags, int mode);

    [LibraryImport(Libc, EntryPoint = "close")]
    public static partial int Close(int fd);

    [LibraryImport(Libc, EntryPoint = "read", SetLastError = true)]
    public static partial nint Read(int fd, byte* buffer, nint count);

    [LibraryImport(Libc, EntryPoint = "write", SetLastError = true)]
    public static partial nint Write(int fd, byte* buffer, nint count);

    [LibraryImport(Libc, EntryPoint = "umask")]
    public static partial uint Umask(uint mask);

    [LibraryImport(Libc, EntryPoint = "setenv", StringMarshalling = StringMarshalling.Utf8, SetLastError = true)]
    public static partial int SetEnv(string name, string value, int overwrite);

    [LibraryImport(Libc, EntryPoint = "unsetenv", StringMarshalling = StringMarshalling.Utf8, SetLastError = true)]
    public static partial int UnsetEnv(string name);

    public static int LastError => Marshal.GetLastPInvokeError();

    public static string Describe(int errno) => Marshal.GetPInvokeErrorMessage(errno);
}
