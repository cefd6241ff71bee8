using System.Globalization;
using System.Runtime.InteropServices;
using System.Text;
using static Xar.Posix.LibC;

namespace Xar.Runtime.Fuse;

/// <summary>Who may use a mount besides the user who mounted it.</summary>
public enum FuseAccess
{
    /// <summary>Only the mounting user (the kernel's default for FUSE).</summary>
    Owner,
    /// <summary>The owner and root (libfuse's allow_root: the kernel lets everyone in, the server refuses the rest).</summary>
    OwnerAndRoot,
    /// <summary>Everyone (allow_other).</summary>
    Everyone,
}

/// <summary>How an unmount went.</summary>
public enum FuseUnmountResult
{
    Unmounted,
    /// <summary>Something has a file, a directory or its working directory open in it (EBUSY); nothing changed.</summary>
    Busy,
    Failed,
}

/// <summary>
/// Mounts and unmounts the server's file system. As root: open /dev/fuse and mount(2) it, type
/// "fuse.xar". Otherwise through fusermount3 (then fusermount), which is setuid root, mounts for
/// us and hands the /dev/fuse descriptor back over a socket (SCM_RIGHTS, the _FUSE_COMMFD protocol),
/// so a user who may not open /dev/fuse can still mount. Always read-only, nosuid, nodev, with the
/// kernel checking permissions from the image's modes (default_permissions).
/// </summary>
public static unsafe class FuseMounter
{
    public const string Subtype = "xar";
    /// <summary>The file system type in /proc/mounts, which tells these mounts from squashfuse's.</summary>
    public const string FileSystemType = "fuse." + Subtype;
    private static ReadOnlySpan<byte> FileSystemTypeBytes => "fuse.xar\0"u8;
    private const string CommFdVariable = "_FUSE_COMMFD";
    private static readonly string[] FusermountNames = ["fusermount3", "fusermount"];
    private static readonly string[] SystemDirectories = ["/usr/bin", "/bin", "/usr/sbin", "/sbin"];

    /// <summary>
    /// Mounts a FUSE file system on <paramref name="mountPoint"/> and returns the /dev/fuse
    /// descriptor (close-on-exec) to serve it on. <paramref name="mountPoint"/> is the path's bytes (without a NUL),
    /// which need not be UTF-8; <paramref name="source"/> is what /proc/mounts shows as the mounted thing.
    /// </summary>
    /// <exception cref="FuseUnavailableException">FUSE cannot mount here; the reason is the message.</exception>
    public static int Mount(byte[] mountPoint, string source, FuseAccess access)
    {
        if (GetEuid() == 0)
            return MountDirectly(mountPoint, source, access);
        return MountWithFusermount(mountPoint, source, access);
    }

    private static int MountDirectly(byte[] mountPoint, string source, FuseAccess access)
    {
        int fd = Open("/dev/fuse", O_RDWR | O_CLOEXEC, 0);
        if (fd < 0)
            throw new FuseUnavailableException($"cannot open /dev/fuse: {Describe(LastError)}");
        var data = string.Create(CultureInfo.InvariantCulture,
            $"fd={fd},rootmode=40000,user_id={GetEuid()},group_id={GetEgid()},default_permissions{(access == FuseAccess.Owner ? "" : ",allow_other")}");
        byte[] dataBytes = Encoding.UTF8.GetBytes(data + "\0");
        byte[] sourceBytes = Encoding.UTF8.GetBytes(source + "\0");
        byte[] target = Posix.NativePath.ToCString(mountPoint);
        int result;
        fixed (byte* d = dataBytes)
        fixed (byte* from = sourceBytes)
        fixed (byte* to = target)
        fixed (byte* type = FileSystemTypeBytes)
            result = Posix.LibC.Mount(from, to, type, (nuint)(MS_RDONLY | MS_NOSUID | MS_NODEV), (nint)d);
        if (result != 0)
        {
            int errno = LastError;
            Close(fd);
            throw new FuseUnavailableException($"cannot mount {Posix.NativePath.Display(mountPoint)}: {Describe(errno)}");
        }
        return fd;
    }

    private static int MountWithFusermount(byte[] mountPoint, string source, FuseAccess access)
    {
        string program = FindFusermount() ?? throw new FuseUnavailableException("neither fusermount3 nor fusermount is installed");
        // fusermount splits options at commas and refuses some characters in the source it records.
        var fsname = new StringBuilder(source.Length);
        foreach (char c in source)
            fsname.Append(c is ',' or '\\' or '\n' or '\t' ? '_' : c);
        string options = "ro,nosuid,nodev,default_permissions,subtype=" + Subtype + ",fsname=" + fsname
            + (access == FuseAccess.Owner ? "" : ",allow_other");

        int* pair = stackalloc int[2];
        if (SocketPair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, pair) != 0)
            throw new FuseUnavailableException($"cannot create a socket pair: {Describe(LastError)}");
        int ours = pair[0];
        // The child's end lands on descriptor 3 in fusermount; keep it clear of 0-3 here so the
        // spawn's dup2 calls cannot overwrite each other.
        int theirs = Fcntl(pair[1], F_DUPFD_CLOEXEC, 10);
        Close(pair[1]);
        int* pipe = stackalloc int[2];
        if (theirs < 0 || Pipe2(pipe, O_CLOEXEC) != 0)
        {
            int errno = LastError;
            Close(ours);
            if (theirs >= 0)
                Close(theirs);
            throw new FuseUnavailableException($"cannot prepare {Path.GetFileName(program)}: {Describe(errno)}");
        }
        int errorRead = pipe[0];
        int errorWrite = Fcntl(pipe[1], F_DUPFD_CLOEXEC, 10);
        Close(pipe[1]);
        int pid;
        try
        {
            pid = Spawn(program, [.. RawArguments.Utf8("-o", options, "--"), mountPoint], theirs, errorWrite);
        }
        catch
        {
            Close(ours);
            Close(errorRead);
            throw;
        }
        finally
        {
            Close(theirs);
            if (errorWrite >= 0)
                Close(errorWrite);
        }
        int device = ReceiveDescriptor(ours);
        Close(ours);
        var status = Wait(pid);
        string errors = ReadAll(errorRead);
        Close(errorRead);
        if (device < 0)
        {
            string firstLine = errors.Trim().Split('\n')[0].Trim();
            throw new FuseUnavailableException(firstLine.Length > 0 ? firstLine : $"{Path.GetFileName(program)} {status}");
        }
        return device;
    }

    private static string? FindFusermount()
    {
        foreach (string name in FusermountNames)
            if (ChildProcess.FindOnPath(name, SystemDirectories) is { } path)
                return path;
        return null;
    }

    /// <summary>posix_spawn with stdin/stdout on /dev/null, stderr into a pipe, the socket as descriptor 3 and _FUSE_COMMFD=3.</summary>
    private static int Spawn(string program, byte[][] arguments, int socket, int errorWrite)
    {
        byte* actions = stackalloc byte[512];
        byte* attributes = stackalloc byte[1024];
        byte* signals = stackalloc byte[256];
        using var argv = new NativeArgv(program, [Encoding.UTF8.GetBytes(program), .. arguments]);
        var environment = new NativeEnvironment(CommFdVariable, "3");
        try
        {
            FileActionsInit(actions);
            FileActionsAddOpen(actions, 0, "/dev/null", O_RDONLY, 0);
            FileActionsAddOpen(actions, 1, "/dev/null", O_WRONLY, 0);
            FileActionsAddDup2(actions, errorWrite, 2);
            FileActionsAddDup2(actions, socket, 3);
            FileActionsAddCloseFrom(actions, 4);
            SpawnAttrInit(attributes);
            SigFillSet(signals);
            SpawnAttrSetSigDefault(attributes, signals);
            SigEmptySet(signals);
            SpawnAttrSetSigMask(attributes, signals);
            SpawnAttrSetFlags(attributes, POSIX_SPAWN_SETSIGDEF | POSIX_SPAWN_SETSIGMASK);
            int error = PosixSpawn(out int pid, argv.Path, actions, attributes, argv.Argv, environment.Pointer);
            FileActionsDestroy(actions);
            SpawnAttrDestroy(attributes);
            if (error != 0)
                throw new FuseUnavailableException($"cannot run {program}: {Describe(error)}");
            return pid;
        }
        finally
        {
            environment.Dispose();
        }
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

    /// <summary>
    /// Unmounts <paramref name="mountPoint"/>: umount2 as root, else fusermount3 -u (then fusermount).
    /// Not lazy: a mount in use stays and the answer is <see cref="FuseUnmountResult.Busy"/>.
    /// Lazy: detached now, gone when its last user leaves.
    /// </summary>
    public static FuseUnmountResult Unmount(byte[] mountPoint, bool lazy, out string? error)
    {
        error = null;
        if (GetEuid() == 0)
        {
            int unmounted;
            fixed (byte* target = Posix.NativePath.ToCString(mountPoint))
                unmounted = Posix.LibC.Umount2(target, (lazy ? MNT_DETACH : 0) | UMOUNT_NOFOLLOW);
            if (unmounted == 0)
                return FuseUnmountResult.Unmounted;
            int errno = LastError;
            error = Describe(errno);
            return errno == EBUSY ? FuseUnmountResult.Busy : FuseUnmountResult.Failed;
        }
        string? program = FindFusermount();
        if (program is null)
        {
            error = "neither fusermount3 nor fusermount is installed";
            return FuseUnmountResult.Failed;
        }
        byte[][] arguments = lazy ? [.. RawArguments.Utf8("-u", "-z", "--"), mountPoint] : [.. RawArguments.Utf8("-u", "--"), mountPoint];
        var result = ChildProcess.Run(program, arguments);
        if (result.Succeeded)
            return FuseUnmountResult.Unmounted;
        error = result.Describe(Path.GetFileName(program));
        return result.StandardError.Contains("busy", StringComparison.OrdinalIgnoreCase) ? FuseUnmountResult.Busy : FuseUnmountResult.Failed;
    }

    /// <summary>The process environment plus one NAME=VALUE (replacing any NAME already there), as a native envp.</summary>
    private readonly struct NativeEnvironment
    {
        private readonly byte** _pointer;
        private readonly byte* _added;

        public NativeEnvironment(string name, string value)
        {
            byte** environ = Environ;
            int count = 0;
            while (environ[count] is not null)
                count++;
            _pointer = (byte**)NativeMemory.AllocZeroed((nuint)(count + 2), (nuint)sizeof(byte*));
            byte[] entry = Encoding.UTF8.GetBytes(name + "=" + value + "\0");
            _added = (byte*)NativeMemory.Alloc((nuint)entry.Length);
            entry.CopyTo(new Span<byte>(_added, entry.Length));
            var prefix = Encoding.UTF8.GetBytes(name + "=");
            int j = 0;
            for (int i = 0; i < count; i++)
                if (!HasPrefix(environ[i], prefix))
                    _pointer[j++] = environ[i];
            _pointer[j] = _added;
        }

        // Stops at the first byte that differs, so never reads past a shorter entry's NUL.
        private static bool HasPrefix(byte* entry, byte[] prefix)
        {
            for (int i = 0; i < prefix.Length; i++)
                if (entry[i] != prefix[i])
                    return false;
            return true;
        }

        public byte** Pointer => _pointer;

        public void Dispose()
        {
            NativeMemory.Free(_pointer);
            NativeMemory.Free(_added);
        }
    }
}
