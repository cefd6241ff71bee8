using System.Runtime.InteropServices;

namespace Xar.Posix;

/// <summary>
/// libc, source-generated P/Invoke (AOT-safe), for code that runs on the .NET runtime: errors come back
/// through <see cref="LastError"/> (last-error marshalling). Paths are NUL-terminated raw bytes wherever a
/// name may come from an image or the user (a Linux name is any byte but '/' and NUL); string overloads
/// are for paths the program builds itself or decoded with <see cref="LosslessUtf8"/>, whose bytes they pass on. x86-64 Linux values. The calls are grouped by family
/// in LibC.*.cs; <see cref="RawLibC"/> holds the variants for code that runs before the runtime.
/// </summary>
public static unsafe partial class LibC
{
    internal const string Library = "libc";

    public const int EPERM = 1, ENOENT = 2, EINTR = 4, EIO = 5, ENXIO = 6, E2BIG = 7, EBADF = 9, EAGAIN = 11, EWOULDBLOCK = 11,
        ENOMEM = 12, EACCES = 13, EBUSY = 16, EEXIST = 17, EXDEV = 18, ENODEV = 19, ENOTDIR = 20, EISDIR = 21, EINVAL = 22,
        ENOSPC = 28, ESPIPE = 29, EROFS = 30, EPIPE = 32, ERANGE = 34, ENAMETOOLONG = 36, ENOSYS = 38, ENOTEMPTY = 39, ELOOP = 40,
        ENODATA = 61, EPROTO = 71, ENOTSUP = 95, EOPNOTSUPP = 95, ECONNABORTED = 103, ENOTCONN = 107;

    public static int LastError => Marshal.GetLastPInvokeError();

    /// <summary>strerror's text for <paramref name="errno"/>.</summary>
    public static string Describe(int errno) => Marshal.GetPInvokeErrorMessage(errno);
}
