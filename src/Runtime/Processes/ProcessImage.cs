using System.Runtime.InteropServices;

namespace Xar.Runtime;

/// <summary>Replaces the current process with another program (execv), as `xar run` does with xarexec.</summary>
public static unsafe partial class ProcessImage
{
    /// <summary>
    /// execv(<paramref name="path"/>, <paramref name="argv"/>) with the live environment, the arguments
    /// as bytes (any but NUL; <see cref="RawArguments.Utf8"/> for strings). SIGPIPE goes back to its
    /// default first (.NET ignores it, and an ignored signal stays ignored across exec).
    /// Returns only on failure, with the cause.
    /// </summary>
    public static XarLaunchException Exec(string path, IReadOnlyList<byte[]> argv)
    {
        using var native = new NativeArgv(path, argv);
        signal(13 /* SIGPIPE */, 0 /* SIG_DFL */);
        execv(native.Path, native.Argv);
        int errno = Marshal.GetLastPInvokeError();
        return new XarLaunchException($"cannot run {path}: {Marshal.GetPInvokeErrorMessage(errno)}");
    }

    [LibraryImport("libc", SetLastError = true)]
    private static partial int execv(byte* path, byte** argv);

    [LibraryImport("libc")]
    private static partial nint signal(int signal, nint handler);
}
