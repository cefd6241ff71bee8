using System.Text;
using Xar.Posix;
using Xar.Runtime.Launching;
using static Xar.Posix.LibC;

namespace Xar.Runtime.Fuse;

/// <summary>A fusermount3 (or fusermount) that was started to mount: its end of the socket, its standard error, its pid.</summary>
public struct StartedFusermount
{
    public int Socket;
    public int ErrorPipe;
    public int Pid;

    /// <summary>Whether it is fusermount3 (else fusermount): for messages.</summary>
    public bool IsVersion3;

    public readonly string Name => IsVersion3 ? "fusermount3" : "fusermount";
}

/// <summary>
/// Mounting as a user who is not root: fusermount3 (then fusermount), setuid root, mounts and hands the
/// /dev/fuse descriptor back over a socket (one byte of data and one SCM_RIGHTS descriptor, the descriptor
/// named by <c>_FUSE_COMMFD</c>), then exits. Finding it, its options and starting it allocate nothing, so the
/// server's pre-runtime step starts it while the .NET runtime starts (<see cref="EarlyFusermount"/>);
/// <see cref="Finish"/> collects the descriptor. <see cref="FuseMounter"/> runs both steps in a row otherwise.
/// </summary>
public static unsafe class Fusermount
{
    /// <summary>Room for the options: the longest source a path can give, and the rest.</summary>
    public const int OptionsCapacity = 2 * PathBuilder.Capacity;

    /// <summary>fusermount3, else fusermount: the first on $PATH, else in the system directories.</summary>
    public static bool TryFind(NativeText pathVariable, ref PathBuilder found, out bool isVersion3)
    {
        isVersion3 = HelperProcess.TryFind(pathVariable, "fusermount3"u8, ref found, systemFallbacks: true);
        return isVersion3 || HelperProcess.TryFind(pathVariable, "fusermount"u8, ref found, systemFallbacks: true);
    }

    /// <summary>
    /// The <c>-o</c> options: read-only, nosuid, nodev, the kernel checking permissions from the image's modes,
    /// type fuse.xar, <paramref name="source"/> as what /proc/mounts shows (fusermount splits options at commas
    /// and refuses some characters in it: those become '_'), and allow_other unless only the owner may use it.
    /// False when they do not fit.
    /// </summary>
    public static bool TryWriteOptions(ref PathBuilder options, ReadOnlySpan<byte> source, FuseAccess access)
    {
        options.Truncate(0);
        options.Append("ro,nosuid,nodev,default_permissions,subtype="u8);
        options.Append(FuseMounter.SubtypeBytes);
        options.Append(",fsname="u8);
        foreach (byte b in source)
            options.Append(b is (byte)',' or (byte)'\\' or (byte)'\n' or (byte)'\t' ? (byte)'_' : b);
        if (access != FuseAccess.Owner)
            options.Append(",allow_other"u8);
        return options.Fits;
    }

    /// <summary>
    /// Starts <paramref name="program"/> <c>-o OPTIONS -- MOUNTPOINT</c> with <paramref name="envp"/> and
    /// <c>_FUSE_COMMFD=3</c>: the socket's other end as its descriptor 3, standard error into a pipe. 0, or the error number.
    /// </summary>
    public static int Start(byte* program, bool isVersion3, byte* options, byte* mountPoint, byte** envp, out StartedFusermount started)
    {
        started = new StartedFusermount { Socket = -1, ErrorPipe = -1, IsVersion3 = isVersion3 };
        int* pair = stackalloc int[2];
        if (RawLibC.SocketPair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, pair) != 0)
            return RawLibC.Errno;
        int* pipe = stackalloc int[2];
        if (RawLibC.Pipe2(pipe, O_CLOEXEC) != 0)
        {
            int errno = RawLibC.Errno;
            RawLibC.Close(pair[0]);
            RawLibC.Close(pair[1]);
            return errno;
        }
        // The environment as it is, any _FUSE_COMMFD in it replaced.
        int count = 0;
        while (envp != null && envp[count] != null)
            count++;
        var environment = (byte**)RawLibC.Malloc((nuint)(count + 2) * (nuint)sizeof(byte*));
        int error = LibC.ENOMEM;
        int pid = 0;
        if (environment != null)
        {
            int kept = 0;
            for (int i = 0; i < count; i++)
                if (!NativeText.FromCString(envp[i]).StartsWith("_FUSE_COMMFD="u8))
                    environment[kept++] = envp[i];
            byte** argv = stackalloc byte*[6];
            fixed (byte* commFd = "_FUSE_COMMFD=3\0"u8)
            fixed (byte* o = "-o\0"u8)
            fixed (byte* endOfOptions = "--\0"u8)
            {
                environment[kept++] = commFd;
                environment[kept] = null;
                argv[0] = program;
                argv[1] = o;
                argv[2] = options;
                argv[3] = endOfOptions;
                argv[4] = mountPoint;
                argv[5] = null;
                error = HelperProcess.Spawn(program, argv, environment, pipe[1], [pair[1]], newSession: false, out pid);
            }
            RawLibC.Free(environment);
        }
        RawLibC.Close(pair[1]);
        RawLibC.Close(pipe[1]);
        if (error != 0)
        {
            RawLibC.Close(pair[0]);
            RawLibC.Close(pipe[0]);
            return error;
        }
        started.Socket = pair[0];
        started.ErrorPipe = pipe[0];
        started.Pid = pid;
        return 0;
    }

    /// <summary>
    /// Waits for the started fusermount: the /dev/fuse descriptor it sent (close-on-exec), or -1 and
    /// <paramref name="failure"/>, its first line of errors or how it ended. Closes what <see cref="Start"/> opened.
    /// </summary>
    public static int Finish(in StartedFusermount started, out string? failure)
    {
        int device = ReceiveDescriptor(started.Socket);
        Close(started.Socket);
        string status = Wait(started.Pid);
        string errors = ReadAll(started.ErrorPipe);
        Close(started.ErrorPipe);
        failure = null;
        if (device < 0)
        {
            string firstLine = errors.Trim().Split('\n')[0].Trim();
            failure = firstLine.Length > 0 ? firstLine : $"{started.Name} {status}";
        }
        return device;
    }

    /// <summary>The descriptor fusermount sends (one byte of data, one SCM_RIGHTS descriptor), or -1 when it sent none.</summary>
    internal static int ReceiveDescriptor(int socket)
    {
        byte data;
        int controlSize = CmsgSpace(sizeof(int));
        byte* control = stackalloc byte[controlSize];
        while (true)
        {
            new Span<byte>(control, controlSize).Clear();
            var iov = new Iovec { Base = &data, Length = 1 };
            var message = new MsgHdr { Iov = &iov, IovLength = 1, Control = control, ControlLength = (nuint)controlSize };
            nint n = RecvMsg(socket, &message, MSG_CMSG_CLOEXEC);
            if (n < 0 && LastError == EINTR)
                continue;
            if (n <= 0 || message.ControlLength < (nuint)CmsgLength(sizeof(int)))
                return -1;
            var header = (CmsgHdr*)control;
            if (header->Level != SOL_SOCKET || header->Type != SCM_RIGHTS || header->Length < (nuint)CmsgLength(sizeof(int)))
                return -1;
            return *(int*)(control + sizeof(CmsgHdr));
        }
    }

    private static string Wait(int pid)
    {
        int status;
        while (WaitPid(pid, out status, 0) < 0)
            if (LastError != EINTR)
                return "could not be waited for";
        int signal = status & 0x7f;
        return signal != 0 ? $"was killed by signal {signal}" : $"exited with status {(status >> 8) & 0xff}";
    }

    private static string ReadAll(int fd)
    {
        byte* buffer = stackalloc byte[4096];
        int total = 0;
        while (total < 4096)
        {
            nint n = Read(fd, buffer + total, 4096 - total);
            if (n < 0 && LastError == EINTR)
                continue;
            if (n <= 0)
                break;
            total += (int)n;
        }
        return Encoding.UTF8.GetString(buffer, total);
    }
}
