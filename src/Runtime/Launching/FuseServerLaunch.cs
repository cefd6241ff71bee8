using Xar.Posix;
using static Xar.Posix.RawLibC;

namespace Xar.Runtime.Launching;

/// <summary>
/// Mounting with the built-in FUSE server (<see cref="Fuse.FuseDaemon"/>, the launcher's default): this very
/// executable again, <c>PROGRAM --fuse-serve --image-fd 3 --ready-fd 4 --offset N --timeout T [--allow-root] -- MOUNTPOINT</c>,
/// the XAR handed over as descriptor 3 (the image whose header was read) and a pipe as descriptor 4. The server
/// detaches (it is never the program's child) and writes one line there: <c>ok</c> once the mount serves, or
/// <c>error: CAUSE</c>. Allocation-free: it runs before the .NET runtime starts, too.
/// </summary>
public static unsafe class FuseServerLaunch
{
    /// <summary>What <see cref="LaunchOutcome.Detail"/> holds when the server gave no answer in time.</summary>
    public static ReadOnlySpan<byte> ServerName => "xar"u8;

    public static FuseUnavailability Mount(ProcessEnvironment env, int xarFd, long offset, long timeoutSeconds, byte* mountPath, ref LaunchOutcome outcome)
    {
        // The command line from its one writer (FuseServeCommandLine.Write), which FuseDaemon.Arguments.ToArgv uses too.
        var serve = new Fuse.FuseServeCommandLine
        {
            ImageFd = 3,
            ReadyFd = 4,
            Offset = offset,
            TimeoutSeconds = timeoutSeconds > int.MaxValue ? int.MaxValue : (int)timeoutSeconds,
            Access = SquashFuse.FuseConfAllowsOther() ? Fuse.FuseAccess.OwnerAndRoot : Fuse.FuseAccess.Owner,
            CacheMiB = Fuse.FuseServeCommandLine.DefaultCacheMiB,
            MountPoint = mountPath,
        };
        byte* text = stackalloc byte[Fuse.FuseServeCommandLine.TextCapacity];
        byte** argv = stackalloc byte*[1 + Fuse.FuseServeCommandLine.MaxArguments];
        if (serve.Write(text, Fuse.FuseServeCommandLine.TextCapacity, argv + 1, Fuse.FuseServeCommandLine.MaxArguments) < 0)
        {
            outcome.HelperStatus = int.MinValue; // values the server would refuse (a negative offset or timeout): none come from the core
            outcome.Errno = LibC.EINVAL;
            return FuseUnavailability.ServerFailed;
        }

        int* pipe = stackalloc int[2];
        if (Pipe2(pipe, LibC.O_CLOEXEC) != 0)
        {
            outcome.HelperStatus = int.MinValue;
            outcome.Errno = Errno;
            return FuseUnavailability.ServerFailed;
        }
        int pid;
        int error;
        fixed (byte* self = "/proc/self/exe\0"u8)
        fixed (byte* program = "xarexec\0"u8)
        {
            argv[0] = program;
            error = HelperProcess.Spawn(self, argv, env.Envp, -1, [xarFd, pipe[1]], newSession: false, out pid);
        }
        Close(pipe[1]);
        if (error != 0)
        {
            Close(pipe[0]);
            outcome.HelperStatus = int.MinValue;
            outcome.Errno = error;
            return FuseUnavailability.ServerFailed;
        }

        // The answer: one line, or end of file when the server died before it could give one.
        byte* line = outcome.DetailPointer();
        int length = ReadLine(pipe[0], line, LaunchOutcome.PathCapacity, SquashFuse.MountWaitSeconds * 1000, out bool timedOut);
        Close(pipe[0]);
        if (timedOut)
            Kill(pid, LibC.SIGKILL); // a relay that hangs; the server itself gives up on its own
        int status;
        while (WaitPid(pid, &status, 0) < 0 && Errno == LibC.EINTR)
        {
        }
        var answer = new NativeText(line, length);
        if (answer.SequenceEqual("ok"u8))
        {
            // Mounted (mount(2) or fusermount3 succeeded in the server). No statfs to check: it would wait for the
            // server's INIT answer, and the target's lookup that comes next waits for it anyway.
            line[0] = 0;
            return FuseUnavailability.None;
        }
        if (timedOut)
        {
            Fuse.FuseUnmount.Lazily(mountPath, env.Get("PATH"u8), env.Envp);
            var detail = new PathBuilder(line);
            detail.Append(ServerName);
            return FuseUnavailability.MountDidNotAppear;
        }
        if (answer.StartsWith("error: "u8))
        {
            // The cause alone, in place.
            for (int i = 7; i <= length; i++)
                line[i - 7] = i == length ? (byte)0 : line[i];
            outcome.HelperStatus = 0;
            return FuseUnavailability.ServerFailed;
        }
        line[0] = 0;
        outcome.HelperStatus = (status & 0x7F) == 0 ? (status >> 8) & 0xFF : -(status & 0x7F);
        if (outcome.HelperStatus == 0)
            outcome.HelperStatus = 1; // it exited "successfully" without saying ok: still a failure
        return FuseUnavailability.ServerFailed;
    }

    /// <summary>
    /// Reads up to the first newline (not stored) within <paramref name="timeoutMilliseconds"/>: the line's length,
    /// NUL-terminated in <paramref name="buffer"/>; what came before end of file when there was no newline.
    /// </summary>
    private static int ReadLine(int fd, byte* buffer, int capacity, int timeoutMilliseconds, out bool timedOut)
    {
        timedOut = false;
        int total = 0;
        long waited = 0;
        while (total < capacity - 1)
        {
            var poll = new LibC.PollFd { Fd = fd, Events = LibC.POLLIN };
            int slice = timeoutMilliseconds - (int)waited;
            if (slice <= 0)
            {
                timedOut = true;
                break;
            }
            long before = MonotonicMilliseconds();
            int ready = Poll(&poll, 1, slice);
            waited += MonotonicMilliseconds() - before;
            if (ready < 0 && Errno == LibC.EINTR)
                continue;
            if (ready == 0)
            {
                timedOut = true;
                break;
            }
            nint n = Read(fd, buffer + total, capacity - 1 - total);
            if (n < 0 && Errno == LibC.EINTR)
                continue;
            if (n <= 0)
                break;
            int start = total;
            total += (int)n;
            for (int i = start; i < total; i++)
            {
                if (buffer[i] == '\n')
                {
                    buffer[i] = 0;
                    return i;
                }
            }
        }
        buffer[total] = 0;
        return total;
    }

    private static long MonotonicMilliseconds()
    {
        long* time = stackalloc long[2];
        ClockGetTime(1 /* CLOCK_MONOTONIC */, time);
        return time[0] * 1000 + time[1] / 1_000_000;
    }
}
