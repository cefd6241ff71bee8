using System.Text;
using static Xar.Posix.LibC;

namespace Xar.Runtime.Fuse;

/// <summary>
/// Starts the FUSE server process (<see cref="FuseDaemon"/>) from managed code: <see cref="StartDaemon"/> is how a
/// server process detaches where the pre-runtime step could not (the xar executable). The launch core starts its
/// server with Launching/FuseServerLaunch; both write the command line with <see cref="FuseServeCommandLine.Write"/>.
/// </summary>
public static unsafe class FuseServerProcess
{
    /// <summary>The image and ready descriptors in the started process, as the launch core hands them.</summary>
    private const int ImageFd = 3;
    private const int ReadyFd = 4;

    /// <summary>How long the detaching process waits for the daemon's readiness line.</summary>
    private static readonly TimeSpan ReadyWait = TimeSpan.FromSeconds(15);

    /// <summary>
    /// Starts this executable as the detached daemon (<c>--foreground</c>, in a new session, stdio on
    /// /dev/null, the image as descriptor 3, the ready pipe as descriptor 4) and waits for its
    /// readiness line. Returns when the mount serves.
    /// </summary>
    /// <exception cref="FuseUnavailableException">The daemon did not get ready; the message says why.</exception>
    public static void StartDaemon(FuseDaemon.Arguments arguments)
    {
        string executable = Environment.ProcessPath ?? throw new FuseUnavailableException("cannot tell this program's path");
        var daemon = arguments with { ImageFd = ImageFd, ReadyFd = ReadyFd, Foreground = true };
        int pid = Spawn(executable, daemon.ToArgv(), arguments.ImageFd, out int readEnd);
        string? line = ReadLine(readEnd, ReadyWait);
        Close(readEnd);
        if (line == "ok")
            return;
        if (line is null)
        {
            Kill(pid, SIGKILL);
            throw new FuseUnavailableException($"the FUSE server was not ready within {ReadyWait.TotalSeconds:0} s");
        }
        throw new FuseUnavailableException(line.StartsWith("error: ", StringComparison.Ordinal) ? line[7..]
            : "the FUSE server exited before it was ready");
    }

    /// <summary>
    /// Starts <paramref name="executable"/> in a new session with stdio on /dev/null, <paramref name="imageFd"/> as descriptor 3 and the
    /// write end of a new pipe as descriptor 4 (its read end returned in <paramref name="readEnd"/>), through the launch
    /// core's one spawn (<see cref="Launching.HelperProcess.Spawn"/>).
    /// </summary>
    private static int Spawn(string executable, byte[][] arguments, int imageFd, out int readEnd)
    {
        int* fds = stackalloc int[2];
        if (Pipe2(fds, O_CLOEXEC) != 0)
            throw new FuseUnavailableException($"cannot create a pipe: {Describe(LastError)}");
        readEnd = fds[0];
        int error;
        int pid;
        using (var argv = new NativeArgv(executable, [Encoding.UTF8.GetBytes(executable), .. arguments]))
            error = Launching.HelperProcess.Spawn(argv.Path, argv.Argv, Environ, -1, [imageFd, fds[1]], newSession: true, out pid);
        Close(fds[1]);
        if (error == 0)
            return pid;
        Close(readEnd);
        throw new FuseUnavailableException($"cannot run {executable}: {Describe(error)}");
    }

    /// <summary>One line (without the newline); what there was at end of file; null on timeout.</summary>
    private static string? ReadLine(int fd, TimeSpan timeout)
    {
        const int Capacity = 1024;
        byte* buffer = stackalloc byte[Capacity];
        int total = 0;
        long deadline = Environment.TickCount64 + (long)timeout.TotalMilliseconds;
        while (total < Capacity)
        {
            var poll = new PollFd { Fd = fd, Events = POLLIN };
            int ready = Poll(&poll, 1, (int)Math.Max(0, deadline - Environment.TickCount64));
            if (ready < 0 && LastError == EINTR)
                continue;
            if (ready == 0)
                return null;
            nint n = Read(fd, buffer + total, Capacity - total);
            if (n < 0 && LastError == EINTR)
                continue;
            if (n <= 0)
                break;
            total += (int)n;
            int newline = new ReadOnlySpan<byte>(buffer, total).IndexOf((byte)'\n');
            if (newline >= 0)
                return Encoding.UTF8.GetString(buffer, newline);
        }
        return Encoding.UTF8.GetString(buffer, total).Trim();
    }
}
