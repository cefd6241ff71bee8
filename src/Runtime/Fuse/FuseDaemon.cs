using System.Runtime.InteropServices;
using System.Text;
using Microsoft.Win32.SafeHandles;
using Xar.SquashFs;
using static Xar.Posix.LibC;

namespace Xar.Runtime.Fuse;

/// <summary>
/// The FUSE server as its own process: <c>xarexec --fuse-serve</c>, an internal mode of the launcher
/// (not in its --help). The launch core starts it with Launching/FuseServerLaunch; managed code (the xar executable) with <see cref="FuseServerProcess.StartDaemon"/>.
///
/// <code>
/// xarexec --fuse-serve --image-fd N [--offset BYTES] [--timeout SECONDS] [--fsname NAME]
///         [--allow-root | --allow-other] [--threads N] [--cache-mib N] [--foreground [--ready-fd N]] [--] MOUNTPOINT
/// </code>
///
/// <list type="bullet">
/// <item><c>--image-fd N</c>: the XAR (or bare image), an inherited descriptor open for reading; the
/// server reads it with pread and never opens the file by name.</item>
/// <item><c>--offset BYTES</c>: where the SquashFS image starts in that file (the header's OFFSET); 0 by default.</item>
/// <item><c>--timeout SECONDS</c>: unmount after that long without a request (a mount in use stays); 0, the default, never.</item>
/// <item><c>--fsname NAME</c>: the source /proc/mounts shows (default: the file the image descriptor names).</item>
/// <item><c>--allow-root</c>, <c>--allow-other</c>: who besides the mounting user may use the mount
/// (either needs <c>user_allow_other</c> in /etc/fuse.conf unless root mounts).</item>
/// <item><c>--threads N</c>, <c>--cache-mib N</c>: serving threads (default: cores, at least 2) and decoded-block cache (default 16).</item>
/// </list>
///
/// Without <c>--foreground</c> (what the launcher runs) the process detaches and serves: xarexec's
/// pre-runtime step forks and the parent exits at once (<see cref="DetachBeforeRuntime"/>), so the server
/// is in its own session and no child of the launcher or of the program it execs; where that step did
/// not run (the xar executable), it starts a <c>--foreground</c> copy of itself in a new session (stdio
/// on /dev/null, the image on descriptor 3, nothing else inherited) and exits once that one is ready.
/// Either way the answer is one line on <c>--ready-fd</c> as below; without a ready descriptor, exit
/// status 0 when mounted, else 1 (2: bad arguments) with the cause as one line on stderr.
///
/// <c>--foreground</c> is the daemon itself: it mounts (as root with mount(2), otherwise through
/// fusermount3), writes one line to <c>--ready-fd</c> (<c>ok</c> once mounted: the kernel holds requests
/// until the INIT that follows is answered; or <c>error: CAUSE</c> and exit 1), closes it, and serves until the file system is unmounted: by its
/// idle timeout, <c>fusermount3 -u</c>, <c>umount</c>, or SIGTERM/SIGINT/SIGHUP (which unmount
/// first, lazily if the mount is in use); then exits 0. It names itself <c>xarexec-fuse</c>.
/// </summary>
public static unsafe class FuseDaemon
{
    /// <summary>
    /// The launcher's first argument that selects this mode: <see cref="FuseServeCommandLine.Flag"/> as a const string,
    /// for Main's dispatch (no static constructor on the launch path); a test holds the two equal.
    /// </summary>
    public const string Flag = "--fuse-serve";
    private const string ProcessName = "xarexec-fuse";
    private static readonly TimeSpan InitWait = TimeSpan.FromSeconds(10);

    /// <summary>The daemon's arguments, parsed.</summary>
    public sealed record Arguments
    {
        public int ImageFd { get; init; } = -1;
        public long Offset { get; init; }
        public int TimeoutSeconds { get; init; }
        public int ReadyFd { get; init; } = -1;
        public string? FsName { get; init; }
        public FuseAccess Access { get; init; } = FuseAccess.Owner;
        public int Threads { get; init; }
        public int CacheMiB { get; init; } = FuseServeCommandLine.DefaultCacheMiB;
        public bool Foreground { get; init; }

        /// <summary>The absolute path's bytes (without a NUL): the launcher's mount directory need not be UTF-8.</summary>
        public byte[] MountPoint { get; init; } = [];

        /// <summary>
        /// The command line (after the program name) that gives these arguments: what <see cref="FuseServeCommandLine.Write"/>,
        /// the launch core's writer, makes of them, copied out.
        /// </summary>
        /// <exception cref="ArgumentException">Values the server would refuse (a negative descriptor, no mount point, ...).</exception>
        public byte[][] ToArgv()
        {
            byte[] fsName = FsName is null ? [] : [.. Encoding.UTF8.GetBytes(FsName), 0];
            byte[] mountPoint = [.. MountPoint, 0];
            byte* text = stackalloc byte[FuseServeCommandLine.TextCapacity];
            byte** argv = stackalloc byte*[FuseServeCommandLine.MaxArguments];
            fixed (byte* name = fsName)
            fixed (byte* mount = mountPoint)
            {
                var line = new FuseServeCommandLine
                {
                    ImageFd = ImageFd,
                    Offset = Offset,
                    TimeoutSeconds = TimeoutSeconds,
                    ReadyFd = ReadyFd,
                    FsName = FsName is null ? null : name,
                    Access = Access,
                    Threads = Threads,
                    CacheMiB = CacheMiB,
                    Foreground = Foreground,
                    MountPoint = mount,
                };
                int count = line.Write(text, FuseServeCommandLine.TextCapacity, argv, FuseServeCommandLine.MaxArguments);
                if (count < 0)
                    throw new ArgumentException($"no {Flag} command line gives these arguments: {this}");
                var result = new byte[count][];
                for (int k = 0; k < count; k++)
                    result[k] = Bytes(argv[k]).ToArray();
                return result;
            }
        }

        /// <summary>Parses the arguments after <see cref="Flag"/> (<see cref="FuseServeCommandLine"/>); null and the reason when they are wrong.</summary>
        public static Arguments? Parse(ReadOnlySpan<string> args, out string? error)
        {
            error = null;
            // One block of NUL-terminated arguments, as argv is: the options are ours (ASCII); the last, the mount
            // point, is the bytes given, which need not be UTF-8.
            var block = new List<byte>();
            var starts = new int[args.Length];
            for (int k = 0; k < args.Length; k++)
            {
                starts[k] = block.Count;
                block.AddRange(k == args.Length - 1 ? RawArguments.OfLast(args[k]) : Encoding.UTF8.GetBytes(args[k]));
                block.Add(0);
            }
            byte[] bytes = [.. block];
            var argv = new nint[args.Length + 1];
            fixed (byte* start = bytes)
            fixed (nint* pointers = argv)
            {
                for (int k = 0; k < args.Length; k++)
                    argv[k] = (nint)(start + starts[k]);
                if (!FuseServeCommandLine.TryParse(args.Length, (byte**)pointers, 0, out var line))
                {
                    error = Describe(line.Fault, args, line.FaultAt);
                    return null;
                }
                var mountPoint = Bytes(line.MountPoint).ToArray();
                return new Arguments
                {
                    ImageFd = line.ImageFd,
                    Offset = line.Offset,
                    TimeoutSeconds = line.TimeoutSeconds,
                    ReadyFd = line.ReadyFd,
                    FsName = line.FsName == null ? null : Encoding.UTF8.GetString(Bytes(line.FsName)),
                    Access = line.Access,
                    Threads = line.Threads,
                    CacheMiB = line.CacheMiB,
                    Foreground = line.Foreground,
                    // Absolute: the daemon works from "/" (it must hold no directory busy).
                    MountPoint = mountPoint[0] == '/' ? mountPoint : Absolute(mountPoint),
                };
            }
        }

        private static ReadOnlySpan<byte> Bytes(byte* text) => new(text, Launching.NativeText.FromCString(text).Length);

        private static string Describe(FuseServeFault fault, ReadOnlySpan<string> args, int at) => fault switch
        {
            FuseServeFault.NeedsValue => $"{args[at]} needs a value",
            FuseServeFault.NotANumber => $"{args[at]} {args[at + 1]}: not a number",
            FuseServeFault.BadValue => $"unknown option or bad value: {args[at]} {args[at + 1]}",
            FuseServeFault.NotOneMountPoint => "expected one mount point after the options",
            FuseServeFault.NoImageFd => "--image-fd is required",
            _ => "the mount point is empty",
        };

        private static byte[] Absolute(byte[] relative)
        {
            byte* cwd = stackalloc byte[Launching.PathBuilder.Capacity];
            if (Xar.Posix.RawLibC.GetCwd(cwd, Launching.PathBuilder.Capacity) == null)
                return Encoding.UTF8.GetBytes(Path.GetFullPath(Encoding.UTF8.GetString(relative)));
            return Xar.Posix.NativePath.Join(new ReadOnlySpan<byte>(cwd, Launching.NativeText.FromCString(cwd).Length), relative);
        }
    }

    /// <summary>Runs the daemon with the arguments after <see cref="Flag"/>; returns the exit status.</summary>
    public static int Main(ReadOnlySpan<string> args)
    {
        var early = EarlyFusermount.Take();
        var arguments = Arguments.Parse(args, out string? usage);
        if (arguments is null)
        {
            early?.Abandon(RawArguments.OfLast(args[^1])); // started only for a command line that ends in a mount point
            WriteAll(2, $"xarexec {Flag}: {usage}\n");
            return 2;
        }
        // A session leader here means the pre-runtime step detached this process already (DetachBeforeRuntime).
        if (arguments.Foreground || GetSid(0) == Environment.ProcessId)
            return Serve(arguments, early);
        early?.Abandon(arguments.MountPoint); // (never: that step starts it in the process it detached)
        var ready = new Readiness(arguments.ReadyFd);
        try
        {
            FuseServerProcess.StartDaemon(arguments with { ReadyFd = -1 });
            ready.Succeed();
            return 0;
        }
        catch (FuseUnavailableException e)
        {
            return ready.Fail(e.Message);
        }
    }

    /// <summary>
    /// The detaching, where it is cheap: called before the .NET runtime starts (xarexec's DT_INIT, one thread, so
    /// fork is safe), for <c>--fuse-serve</c> without <c>--foreground</c>. The parent exits at once, so the launcher
    /// waiting for it goes on; the child, in a session of its own, is no child of the launcher (nor of the program
    /// that replaces it), and serves as <c>--foreground</c> would. Without this step Main detaches by starting a
    /// <c>--foreground</c> copy of itself and relaying its answer, which costs a second start of the runtime.
    /// </summary>
    public static void DetachBeforeRuntime(int argc, byte** argv, byte** envp)
    {
        if (argc < 2 || !IsArgument(argv[1], FuseServeCommandLine.Flag))
            return;
        // Blocked while this is the only thread, so every thread the runtime starts inherits it: a stop signal
        // then waits for Serve's handlers (see there) instead of ending the process by its default action.
        byte* stopSignals = stackalloc byte[SigSetSize];
        StopSignals(stopSignals);
        Xar.Posix.RawLibC.PthreadSigMask(SIG_BLOCK, stopSignals, null);
        // A command line Main will refuse is left to it (it says why); so is --foreground, and a server without a
        // ready descriptor, whose answer is its exit status (Main detaches those).
        if (!FuseServeCommandLine.TryParse(argc, argv, 2, out var line) || line.Foreground || line.ReadyFd < 0)
            return;
        int pid = Xar.Posix.RawLibC.Fork();
        if (pid > 0)
            Xar.Posix.RawLibC.Exit(0);
        if (pid < 0)
            return; // Main detaches the slow way
        Xar.Posix.RawLibC.SetSid();
        // Nothing of whoever started it: no terminal, no pipe they wait on (the answer goes to the ready descriptor).
        int devNull;
        fixed (byte* path = "/dev/null\0"u8)
            devNull = Xar.Posix.RawLibC.Open(path, O_RDWR, 0);
        if (devNull >= 0)
        {
            for (int fd = 0; fd <= 2; fd++)
                if (fd != devNull)
                    Xar.Posix.RawLibC.Dup2(devNull, fd);
            if (devNull > 2)
                Xar.Posix.RawLibC.Close(devNull);
        }
        EarlyFusermount.Start(in line, envp); // not root: fusermount mounts while the runtime starts
    }

    private static bool IsArgument(byte* argument, ReadOnlySpan<byte> expected)
    {
        if (argument == null)
            return false;
        int i = 0;
        for (; i < expected.Length; i++)
            if (argument[i] != expected[i])
                return false;
        return argument[i] == 0;
    }

    /// <summary>Mounts, signals readiness, serves until unmounted; returns the exit status.</summary>
    public static int Serve(Arguments arguments) => Serve(arguments, early: null);

    private static int Serve(Arguments arguments, EarlyFusermount? early)
    {
        var ready = new Readiness(arguments.ReadyFd);
        SetSid(); // EPERM when the launcher made us a session leader already: fine
        Chdir("/"); // hold no directory busy
        SetName(ProcessName);
        // From the start: a signal during the mount must not leave a mount without a server. Registering the
        // handlers starts a thread, which would sit between the launcher and its mount; so when the stop
        // signals were blocked before the runtime started (DetachBeforeRuntime: every thread inherited that),
        // they wait, blocked, until the handlers are in place once the file system serves. Otherwise (the xar
        // executable, which has no pre-runtime step) some runtime thread takes them: the handlers come first.
        byte* signals = stackalloc byte[SigSetSize];
        StopSignals(signals);
        bool blockedEverywhere = StopSignalsBlocked();
        using var stop = new ManualResetEvent(false);
        var handlers = new List<PosixSignalRegistration>();
        void HandleSignals()
        {
            foreach (var signal in new[] { PosixSignal.SIGTERM, PosixSignal.SIGINT, PosixSignal.SIGHUP })
                handlers.Add(PosixSignalRegistration.Create(signal, context =>
                {
                    context.Cancel = true; // unmount first, then exit
                    stop.Set();
                }));
        }
        if (!blockedEverywhere)
            HandleSignals();
        try
        {
            return Serve(arguments, early, ready, () =>
            {
                if (!blockedEverywhere)
                    return;
                HandleSignals();
                PthreadSigMask(SIG_UNBLOCK, signals, null); // to this thread: one that came meanwhile is handled now
            }, stop);
        }
        finally
        {
            foreach (var handler in handlers)
                handler.Dispose();
        }
    }

    private static int Serve(Arguments arguments, EarlyFusermount? early, Readiness ready, Action handleSignals, ManualResetEvent stop)
    {
        FuseServer server;
        try
        {
            var handle = OpenImage(arguments.ImageFd);
            var image = SquashFsImage.Open(handle, arguments.Offset, leaveOpen: false);
            server = FuseServer.Mount(image, arguments.MountPoint, new FuseServerOptions
            {
                Access = arguments.Access,
                Source = Source(arguments),
                Threads = arguments.Threads,
                BlockCacheBytes = (long)arguments.CacheMiB << 20,
                EarlyFusermount = early,
            });
        }
        catch (Exception e) when (e is not OutOfMemoryException)
        {
            early?.Abandon(arguments.MountPoint); // mounted before the image was checked: gone before the answer
            return ready.Fail(e.Message);
        }
        // Ready once mounted: the kernel holds every request on the mount until INIT is answered, so the
        // launcher goes on (its first look at the mount waits for the file system, not for this answer)
        // while the serving threads start.
        ready.Succeed();
        server.Start();
        handleSignals();
        try
        {
            if (!server.WaitUntilInitialized(InitWait))
                throw new FuseUnavailableException($"the kernel sent no INIT within {InitWait.TotalSeconds:0} s");
            if (server.Failure is not null)
                throw new FuseUnavailableException(server.Failure);
        }
        catch (FuseUnavailableException)
        {
            // What waits on the mount gets ENOTCONN once the connection closes with this process.
            server.Unmount(lazy: true, out _);
            return 1;
        }

        bool stopped = new FuseIdleTimer(server, TimeSpan.FromSeconds(arguments.TimeoutSeconds)).Run(stop);
        if (stopped)
        {
            if (server.Unmount(lazy: false, out _) == FuseUnmountResult.Busy)
                server.Unmount(lazy: true, out _);
            // A lazily unmounted file system still in use keeps the threads waiting: exit anyway.
            if (!server.WaitForExit(TimeSpan.FromSeconds(2)))
                return 0;
        }
        server.Dispose();
        return 0;
    }

    /// <summary>
    /// What /proc/mounts shows as the mounted thing: <paramref name="fsName"/> when given, else the file the image
    /// descriptor names, else <c>fd:N</c>. Allocation-free: the pre-runtime step names its early mount with it too.
    /// </summary>
    public static void WriteSource(Launching.NativeText fsName, int imageFd, ref Launching.PathBuilder source)
    {
        source.Truncate(0);
        if (!fsName.IsNull)
        {
            source.Append(fsName);
            return;
        }
        byte* name = stackalloc byte[Launching.PathBuilder.Capacity];
        if (Launching.TrustedDirectory.TryProcFdPath(imageFd, name))
        {
            source.Append(Launching.NativeText.FromCString(name));
            return;
        }
        source.Append("fd:"u8);
        source.AppendDecimal((ulong)imageFd);
    }

    private static string Source(Arguments arguments)
    {
        if (arguments.FsName is not null)
            return arguments.FsName;
        byte* buffer = stackalloc byte[Launching.PathBuilder.Capacity];
        var source = new Launching.PathBuilder(buffer);
        WriteSource(default, arguments.ImageFd, ref source);
        return Encoding.UTF8.GetString(source.CString, source.Length);
    }

    private static SafeFileHandle OpenImage(int fd)
    {
        if (FStatx(fd, out var st) != 0)
            throw new IOException($"image descriptor {fd}: {Describe(LastError)}");
        if (!st.IsRegularFile)
            throw new IOException($"image descriptor {fd} is not a regular file");
        Fcntl(fd, F_SETFD, FD_CLOEXEC); // nothing we start (fusermount3) inherits it
        return new SafeFileHandle(fd, ownsHandle: true);
    }

    /// <summary>
    /// <paramref name="set"/> (a sigset_t) filled with the signals that stop the server: SIGTERM, SIGINT, SIGHUP.
    /// Raw calls, so the pre-runtime step uses it too.
    /// </summary>
    private static void StopSignals(byte* set)
    {
        Xar.Posix.RawLibC.SigEmptySet(set);
        Xar.Posix.RawLibC.SigAddSet(set, SIGTERM);
        Xar.Posix.RawLibC.SigAddSet(set, SIGINT);
        Xar.Posix.RawLibC.SigAddSet(set, SIGHUP);
    }

    /// <summary>Whether SIGTERM, SIGINT and SIGHUP are all blocked in this thread (and so, when that was done before the runtime, in all).</summary>
    private static bool StopSignalsBlocked()
    {
        byte* current = stackalloc byte[SigSetSize];
        if (PthreadSigMask(SIG_BLOCK, null, current) != 0)
            return false;
        foreach (int signal in (ReadOnlySpan<int>)[SIGTERM, SIGINT, SIGHUP])
            if (SigIsMember(current, signal) != 1)
                return false;
        return true;
    }

    private static void SetName(string name)
    {
        byte[] bytes = Encoding.ASCII.GetBytes(name + "\0");
        fixed (byte* b = bytes)
            Prctl(PR_SET_NAME, (nuint)b, 0, 0, 0);
    }

    private static void WriteAll(int fd, string text)
    {
        byte[] bytes = Encoding.UTF8.GetBytes(text);
        fixed (byte* b = bytes)
        {
            int done = 0;
            while (done < bytes.Length)
            {
                nint n = Write(fd, b + done, bytes.Length - done);
                if (n < 0 && LastError == EINTR)
                    continue;
                if (n <= 0)
                    return;
                done += (int)n;
            }
        }
    }

    /// <summary>The one line to the launcher on the ready pipe (or stderr when there is none).</summary>
    private readonly struct Readiness(int fd)
    {
        public int Fail(string cause)
        {
            string line = "error: " + cause.ReplaceLineEndings(" ") + "\n";
            WriteAll(fd >= 0 ? fd : 2, fd >= 0 ? line : $"xarexec {Flag}: {cause}\n");
            if (fd >= 0)
                Close(fd);
            return 1;
        }

        public void Succeed()
        {
            if (fd < 0)
                return;
            WriteAll(fd, "ok\n");
            Close(fd);
        }
    }
}
