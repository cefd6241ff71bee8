using Xar.Posix;
using static Xar.Posix.RawLibC;

namespace Xar.Runtime.Launching;

/// <summary>
/// Mounting with squashfuse: <c>squashfuse_ll -o offset=N[,timeout=T][,allow_root] /dev/fd/3 MOUNTPOINT</c>
/// (or the high-level <c>squashfuse</c>, which takes no timeout), the XAR file handed over as descriptor 3
/// so the image mounted is the one whose header was read. Then up to 9 s for the mount to serve.
/// </summary>
public static unsafe class SquashFuse
{
    public const int MountWaitSeconds = 9;

    public static FuseUnavailability Mount(ProcessEnvironment env, int xarFd, long offset, long timeoutSeconds, int userFd, byte* name, byte* mountPath, ref LaunchOutcome outcome)
    {
        var pathVariable = env.Get("PATH"u8);
        byte* programBuffer = stackalloc byte[PathBuilder.Capacity];
        var program = new PathBuilder(programBuffer);
        bool lowLevel = HelperProcess.TryFind(pathVariable, "squashfuse_ll"u8, ref program, systemFallbacks: false);
        if (!lowLevel && !HelperProcess.TryFind(pathVariable, "squashfuse"u8, ref program, systemFallbacks: false))
            return FuseUnavailability.NoHelper;

        byte* optionsBuffer = stackalloc byte[128];
        var options = new PathBuilder(optionsBuffer, 128);
        options.Append("offset="u8);
        options.AppendDecimal((ulong)offset);
        if (timeoutSeconds > 0 && lowLevel)
        {
            options.Append(",timeout="u8);
            options.AppendDecimal((ulong)timeoutSeconds);
        }
        if (FuseConfAllowsOther())
            options.Append(",allow_root"u8);

        byte** args = stackalloc byte*[6];
        byte* output = outcome.DetailPointer();
        HelperProcess.Result result;
        fixed (byte* dashO = "-o\0"u8)
        fixed (byte* image = "/dev/fd/3\0"u8)
        {
            args[0] = program.CString;
            args[1] = dashO;
            args[2] = options.CString;
            args[3] = image;
            args[4] = mountPath;
            args[5] = null;
            result = HelperProcess.Run(program.CString, args, env.Envp, xarFd, output, LaunchOutcome.PathCapacity);
        }
        if (!result.Succeeded)
        {
            PrefixProgramName(output, lowLevel ? "squashfuse_ll"u8 : "squashfuse"u8);
            outcome.HelperStatus = result.Status == int.MinValue ? int.MinValue : result.Status;
            outcome.Errno = result.SpawnError;
            return FuseUnavailability.HelperFailed;
        }

        // Up to 9 s, polling from 50 us up to every 20 ms.
        long* fs = stackalloc long[32];
        long sleep = 50, waited = 0;
        while (true)
        {
            int fd = OpenAt(userFd, name, LibC.O_PATH | LibC.O_NOFOLLOW | LibC.O_CLOEXEC, 0);
            bool mounted = fd >= 0 && FStatFs(fd, fs) == 0 && fs[0] == LibC.FUSE_SUPER_MAGIC;
            if (fd >= 0)
                Close(fd);
            if (mounted)
                return FuseUnavailability.None;
            if (waited > MountWaitSeconds * 1_000_000L)
            {
                Fuse.FuseUnmount.Lazily(mountPath, pathVariable, env.Envp);
                var detail = new PathBuilder(outcome.DetailPointer());
                detail.Append(lowLevel ? "squashfuse_ll"u8 : "squashfuse"u8);
                return FuseUnavailability.MountDidNotAppear;
            }
            HelperProcess.SleepMicroseconds(sleep);
            waited += sleep;
            sleep = sleep * 2 > 20_000 ? 20_000 : sleep * 2;
        }
    }

    /// <summary>Turns the captured output into "NAME\nOUTPUT" in place (the message names the program).</summary>
    private static void PrefixProgramName(byte* output, ReadOnlySpan<byte> program)
    {
        int length = NativeText.FromCString(output).Length;
        int shift = program.Length + 1;
        if (length + shift >= LaunchOutcome.PathCapacity)
            length = LaunchOutcome.PathCapacity - 1 - shift;
        for (int i = length - 1; i >= 0; i--)
            output[i + shift] = output[i];
        for (int i = 0; i < program.Length; i++)
            output[i] = program[i];
        output[program.Length] = (byte)'\n';
        output[length + shift] = 0;
    }

    /// <summary>A <c>user_allow_other</c> line in /etc/fuse.conf: then mounts get allow_root, as Facebook's do.</summary>
    public static bool FuseConfAllowsOther()
    {
        byte* text = stackalloc byte[4096];
        int total = LaunchCore.ReadSmallFile("/etc/fuse.conf\0"u8, text, 4096);
        if (total is < 0 or >= 4096)
            return false;
        var all = new NativeText(text, total);
        int start = 0;
        while (start <= total)
        {
            int newline = all.IndexOf((byte)'\n', start);
            int end = newline < 0 ? total : newline;
            int a = start, b = end;
            while (a < b && IsSpace(text[a]))
                a++;
            while (b > a && IsSpace(text[b - 1]))
                b--;
            if (all.Slice(a, b - a).SequenceEqual("user_allow_other"u8))
                return true;
            if (newline < 0)
                break;
            start = newline + 1;
        }
        return false;
    }

    private static bool IsSpace(byte c) => c is (byte)' ' or (byte)'\t' or (byte)'\r' or 0x0B or 0x0C;
}
