using System.Text;
using Microsoft.Win32.SafeHandles;
using static Xar.Posix.LibC;

namespace Xar.Runtime.Fuse;

/// <summary>
/// Starts the FUSE server process (<see cref="FuseDaemon"/>). <see cref="Start"/> is what the
/// launcher calls: it runs <c>xarexec --fuse-serve ...</c> with the image as descriptor 3 and waits
/// for it to exit, as it waits for squashfuse; that process starts the daemon detached and exits
/// once the mount serves (<see cref="StartDaemon"/>), so the daemon is never the launcher's child
/// and the program the launcher execs inherits nothing of it.
/// </summary>
public static unsafe class FuseServerProcess
{
    /// <summary>The image descriptor in the started process.</summary>
    public const int ImageFd = 3;
    private const int ReadyFd = 4;

    /// <summary>How long the detaching process waits for the daemon's readiness line.</summary>
    public static readonly TimeSpan ReadyWait = TimeSpan.FromSeconds(15);

    /// <summary>
    /// Mounts <paramref name="image"/> (the image at <paramref name="offset"/> in it) on
    /// <paramref name="mountPoint"/> with a server run from <paramref name="serverExecutable"/>
    /// (xarexec), and returns once the mount serves.
    /// </summary>
    /// <exception cref="FuseUnavailableException">The server did not start; the message says why.</exception>
    public static void Start(string serverExecutable, SafeFileHandle image, long offset, string mountPoint, int timeoutSeconds,
        FuseAccess access, string? fsName = null)
    {
        ArgumentNullException.ThrowIfNull(image);
        var arguments = new FuseDaemon.Arguments
        {
            ImageFd = ImageFd, Offset = offset, MountPoint = Path.GetFullPath(mountPoint), TimeoutSeconds = timeoutSeconds,
            Access = access, FsName = fsName,
        };
        int* pipe = stackalloc int[2];
        if (Pipe2(pipe, O_CLOEXEC) != 0)
            throw new FuseUnavailableException($"cannot create a pipe: {Describe(LastError)}");
        int errorRead = pipe[0], errorWrite = pipe[1];
        int pid;
        try
        {
            pid = Spawn(serverExecutable, arguments.ToArgv(), (int)image.DangerousGetHandle(), errorWrite, stderr: true, newSession: false);
        }
        catch
        {
            Close(errorRead);
            throw;
        }
        finally
        {
            Close(errorWrite);
        }
        string errors = ReadAll(errorRead);
        Close(errorRead);
        int status;
        while (WaitPid(pid, out status, 0) < 0)
            if (LastError != EINTR)
                throw new FuseUnavailableException($"cannot wait for the FUSE server: {Describe(LastError)}");
        if (status == 0)
            return;
        string cause = errors.Trim().Split('\n')[0].Trim();
        int signal = status & 0x7f;
        throw new FuseUnavailableException(cause.Length > 0 ? cause
            : signal != 0 ? $"the FUSE server was killed by signal {signal}" : $"the FUSE server exited with status {(status >> 8) & 0xff}");
    }

    /// <summary>
    /// Starts this executable as the detached daemon (<c>--foreground</c>, in a new session, stdio on
    /// /dev/null, the image as descriptor 3, the ready pipe as descriptor 4) and waits for its
    /// readiness line. Returns when the mount serves.
    /// </summary>
    /// <exception cref="FuseUnavailableException">The daemon did not get ready; the message says why.</exception>
    public static void StartDaemon(FuseDaemon.Arguments arguments)
    {
        string executable = Environment.ProcessPath ?? throw new FuseUnavailableException("cannot tell this program's path");
        int* pipe = stackalloc int[2];
        if (Pipe2(pipe, O_CLOEXEC) != 0)
            throw new FuseUnavailableException($"cannot create a pipe: {Describe(LastError)}");
        int readEnd = pipe[0], writeEnd = pipe[1];
        var daemon = arguments with { ImageFd = ImageFd, ReadyFd = ReadyFd, Foreground = true };
        int pid;
        try
        {
            pid = Spawn(executable, daemon.ToArgv(), arguments.ImageFd, writeEnd, stderr: false, newSession: true);
        }
        catch
        {
            Close(readEnd);
            throw;
        }
        finally
        {
            Close(writeEnd);
        }
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
    /// posix_spawn with stdin/stdout on /dev/null, <paramref name="imageFd"/> as descriptor 3 and
    /// <paramref name="pipeFd"/> as stderr (<paramref name="stderr"/>) or as descriptor 4 (stderr on
    /// /dev/null then), nothing else inherited, signals at their defaults.
    /// </summary>
    private static int Spawn(string executable, string[] arguments, int imageFd, int pipeFd, bool stderr, bool newSession)
    {
        // Move both sources above the targets, so that no dup2 can overwrite the other's source.
        int image = Fcntl(imageFd, F_DUPFD_CLOEXEC, 10);
        int pipe = Fcntl(pipeFd, F_DUPFD_CLOEXEC, 10);
        byte* actions = stackalloc byte[512];
        byte* attributes = stackalloc byte[1024];
        byte* signals = stackalloc byte[256];
        try
        {
            if (image < 0 || pipe < 0)
                throw new FuseUnavailableException($"cannot duplicate a descriptor: {Describe(LastError)}");
            using var argv = new NativeArgv(executable, [executable, .. arguments]);
            FileActionsInit(actions);
            FileActionsAddOpen(actions, 0, "/dev/null", O_RDONLY, 0);
            FileActionsAddOpen(actions, 1, "/dev/null", O_WRONLY, 0);
            if (stderr)
            {
                FileActionsAddDup2(actions, pipe, 2);
            }
            else
            {
                FileActionsAddOpen(actions, 2, "/dev/null", O_WRONLY, 0);
                FileActionsAddDup2(actions, pipe, ReadyFd);
            }
            FileActionsAddDup2(actions, image, ImageFd);
            FileActionsAddCloseFrom(actions, stderr ? ImageFd + 1 : ReadyFd + 1);
            SpawnAttrInit(attributes);
            SigFillSet(signals);
            SpawnAttrSetSigDefault(attributes, signals);
            SigEmptySet(signals);
            SpawnAttrSetSigMask(attributes, signals);
            SpawnAttrSetFlags(attributes, (short)((newSession ? POSIX_SPAWN_SETSID : 0) | POSIX_SPAWN_SETSIGDEF | POSIX_SPAWN_SETSIGMASK));
            int error = PosixSpawn(out int pid, argv.Path, actions, attributes, argv.Argv, Environ);
            FileActionsDestroy(actions);
            SpawnAttrDestroy(attributes);
            if (error != 0)
                throw new FuseUnavailableException($"cannot run {executable}: {Describe(error)}");
            return pid;
        }
        finally
        {
            if (image >= 0)
                Close(image);
            if (pipe >= 0)
                Close(pipe);
        }
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

    private static string ReadAll(int fd)
    {
        const int Capacity = 4096;
        byte* buffer = stackalloc byte[Capacity];
        int total = 0;
        while (total < Capacity)
        {
            nint n = Read(fd, buffer + total, Capacity - total);
            if (n < 0 && LastError == EINTR)
                continue;
            if (n <= 0)
                break;
            total += (int)n;
        }
        return Encoding.UTF8.GetString(buffer, total);
    }
}
