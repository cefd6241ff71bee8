using System.Runtime.InteropServices;
using System.Text;

namespace Xar.SquashFs.Runtime;

/// <summary>Replaces the current process with another program (execv), as `xar run` does with xarexec.</summary>
public static unsafe partial class ProcessImage
{
    /// <summary>
    /// execv(<paramref name="path"/>, <paramref name="argv"/>) with the live environment. SIGPIPE goes
    /// back to its default first (.NET ignores it, and an ignored signal stays ignored across exec).
    /// Returns only on failure, with the cause.
    /// </summary>
    public static XarLaunchException Exec(string path, IReadOnlyList<string> argv)
    {
        var blocks = new List<nint>(argv.Count + 1);
        try
        {
            byte* Utf8(string s)
            {
                int n = Encoding.UTF8.GetByteCount(s);
                byte* p = (byte*)NativeMemory.Alloc((nuint)n + 1);
                blocks.Add((nint)p);
                fixed (char* c = s)
                    Encoding.UTF8.GetBytes(c, s.Length, p, n);
                p[n] = 0;
                return p;
            }

            byte** args = (byte**)NativeMemory.Alloc((nuint)(argv.Count + 1), (nuint)sizeof(byte*));
            blocks.Add((nint)args);
            for (int i = 0; i < argv.Count; i++)
                args[i] = Utf8(argv[i]);
            args[argv.Count] = null;
            byte* file = Utf8(path);
            signal(13 /* SIGPIPE */, 0 /* SIG_DFL */);
            execv(file, args);
            int errno = Marshal.GetLastPInvokeError();
            return new XarLaunchException($"cannot run {path}: {Marshal.GetPInvokeErrorMessage(errno)}");
        }
        finally
        {
            foreach (nint p in blocks)
                NativeMemory.Free((void*)p);
        }
    }

    [LibraryImport("libc", SetLastError = true)]
    private static partial int execv(byte* path, byte** argv);

    [LibraryImport("libc")]
    private static partial nint signal(int signal, nint handler);
}
