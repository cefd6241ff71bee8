using System.Runtime;
using Xar.Posix;
using static Xar.Posix.RawLibC;

namespace Xar.Launcher.PreRuntime;

/// <summary>
/// The launcher's first step, run by the dynamic loader before the .NET runtime starts: it is the
/// executable's DT_INIT (see Xar.Launcher.csproj). When the XAR is already mounted, or, where FUSE
/// cannot serve, already extracted into the cache, it does what <see cref="Launch"/> would do there —
/// the same names, owner and mode checks, lock, "last used" touch, held descriptors and exec — and the
/// runtime never starts, which is most of a warm launch's cost (bench/RESULTS.md, "Launch").
/// For anything else (an option, a header it does not take as is, a mount to make, an extraction,
/// any failure) it returns having changed nothing that matters, and Main runs the whole algorithm,
/// which also gives every error its message.
///
/// Code in this folder runs without a runtime: no managed allocation, no exception, no static field,
/// no string object; stack memory, libc memory and <see cref="RawLibC"/> only.
/// </summary>
internal static unsafe partial class FastStart
{
    private const int HeaderBytes = 8192 + 4; // XarHeader.BytesNeeded
    private const uint RootMode = 0x3FF, UserDirectoryMode = 0x1ED, MountDirectoryMode = 0x1ED, LockFileMode = 0x180, CacheDirectoryMode = 0x1C0;

    private enum Outcome
    {
        /// <summary>Leave the launch to Main.</summary>
        Defer,
        /// <summary>FUSE cannot serve here: the launcher uses the extraction cache.</summary>
        UseCache,
        /// <summary>The image is mounted and serves.</summary>
        Mounted,
        /// <summary>squashfuse_ll ran, but its mount did not appear: the cache, and Main is told not to wait again.</summary>
        LowLevelMountDidNotAppear,
        /// <summary>The same for the high-level squashfuse.</summary>
        HighLevelMountDidNotAppear,
    }

    [RuntimeExport("xarexec_fast_start")]
    private static void Run(int argc, byte** argv, byte** envp)
    {
        if (argc < 2 || argv == null || envp == null || argv[1] == null)
            return;
        byte* xarPath = argv[1];
        if (xarPath[0] == '-' && xarPath[1] != 0)
            return; // an option: Launch parses those
        var env = new ProcessEnvironment(envp);
        if (!env.Get("XAREXEC_MOUNT_DID_NOT_APPEAR"u8).IsNull)
        {
            // Only this process may tell its Main that (see the end); from outside it is dropped, as Launch drops it.
            fixed (byte* name = "XAREXEC_MOUNT_DID_NOT_APPEAR\0"u8)
                UnsetEnv(name);
        }
        if (!env.MountTimeoutIsValid())
            return;

        byte* data = stackalloc byte[HeaderBytes];
        int length = ReadHeader(xarPath, data);
        if (length < 0 || !HeaderScan.TryScan(data, length, out var header) || !TargetIsSafe(header.ExecTarget))
            return;

        var extract = env.Get("XAR_EXTRACT"u8);
        if (!extract.IsNull && extract.SequenceEqual("1"u8))
        {
            TryCached(argc, argv, env, header);
            return;
        }
        LibC.Statx fuse;
        bool fuseExists;
        fixed (byte* devFuse = "/dev/fuse\0"u8)
            fuseExists = StatxAt(LibC.AT_FDCWD, devFuse, 0, LibC.STATX_BASIC_STATS, &fuse) == 0 && !fuse.IsDirectory; // File.Exists
        var outcome = fuseExists ? TryMounted(argc, argv, env, header) : Outcome.UseCache;
        if (outcome is Outcome.Defer or Outcome.Mounted)
            return;
        TryCached(argc, argv, env, header);
        if (outcome != Outcome.UseCache)
        {
            // Main extracts now: FuseMount.MountDidNotAppearVariable = "PROGRAM PID", the pid proving
            // it was set in this very process. Launch removes it before exec.
            byte* valueBuffer = stackalloc byte[PathBuilder.Capacity];
            var value = new PathBuilder(valueBuffer);
            value.Append(outcome == Outcome.LowLevelMountDidNotAppear ? "squashfuse_ll "u8 : "squashfuse "u8);
            value.AppendDecimal((ulong)GetPid());
            fixed (byte* name = "XAREXEC_MOUNT_DID_NOT_APPEAR\0"u8)
                SetEnv(name, value.CString, 1);
        }
    }

    /// <summary>Up to <see cref="HeaderBytes"/> bytes of the file; -1 when it cannot be opened or read.</summary>
    private static int ReadHeader(byte* path, byte* buffer)
    {
        int total = ReadFile(path, LibC.O_NOCTTY, buffer, HeaderBytes, out bool readFailed);
        return readFailed ? -1 : total;
    }

    /// <summary>
    /// Up to <paramref name="capacity"/> bytes of a file, read until end of file or an error
    /// (<paramref name="readFailed"/>); -1 when it cannot be opened.
    /// </summary>
    private static int ReadFile(byte* path, int flags, byte* buffer, int capacity, out bool readFailed)
    {
        readFailed = false;
        int fd = Open(path, LibC.O_RDONLY | LibC.O_CLOEXEC | flags, 0);
        if (fd < 0)
            return -1;
        int total = 0;
        while (total < capacity)
        {
            nint n = Read(fd, buffer + total, capacity - total);
            if (n < 0 && Errno == LibC.EINTR)
                continue;
            readFailed = n < 0;
            if (n <= 0)
                break;
            total += (int)n;
        }
        Close(fd);
        return total;
    }

    /// <summary>Launch.CheckTarget: relative, no ".." component, not empty.</summary>
    private static bool TargetIsSafe(NativeText target)
    {
        if (target.IsEmpty || !target.IsPlainAscii() || target[0] == '/')
            return false;
        int start = 0;
        while (start <= target.Length)
        {
            int slash = target.IndexOf((byte)'/', start);
            int end = slash < 0 ? target.Length : slash;
            if (end - start == 2 && target[start] == '.' && target[start + 1] == '.')
                return false;
            if (slash < 0)
                break;
            start = slash + 1;
        }
        return true;
    }

    /// <summary>
    /// XarLockFile.Acquire for a lock file that exists: opened without following a link, checked
    /// (a regular file of ours, 0600), locked, and still the file at the path. -1 otherwise.
    /// </summary>
    private static int OpenLock(byte* path, int operation, bool create = false)
    {
        int fd;
        do
            fd = Open(path, LibC.O_RDWR | LibC.O_CLOEXEC | LibC.O_NOFOLLOW | LibC.O_NOCTTY | LibC.O_NONBLOCK | (create ? LibC.O_CREAT : 0), (int)LockFileMode);
        while (fd < 0 && Errno == LibC.EINTR);
        if (fd < 0)
            return -1;
        LibC.Statx held, now;
        bool exists = false;
        if (StatxAt(fd, EmptyPath(), LibC.AT_EMPTY_PATH, LibC.STATX_BASIC_STATS, &held) != 0 || !IsOwned(held, directory: false, LockFileMode))
        {
            Close(fd);
            return -1;
        }
        int locked;
        do
            locked = Flock(fd, operation);
        while (locked != 0 && Errno == LibC.EINTR);
        // gc deletes lock files it holds: the lock must be on the file now at the path.
        if (locked != 0 || !TryStat(path, follow: false, &now, out exists) || !exists || now.Ino != held.Ino)
        {
            Close(fd);
            return -1;
        }
        return fd;
    }

    private static byte* EmptyPath()
    {
        fixed (byte* empty = "\0"u8)
            return empty; // static data: stays put
    }

    /// <summary>statx; false on errors other than "does not exist" (PosixPath.TryStat/TryLstat throw on those).</summary>
    private static bool TryStat(byte* path, bool follow, LibC.Statx* st, out bool exists)
    {
        exists = StatxAt(LibC.AT_FDCWD, path, follow ? 0 : LibC.AT_SYMLINK_NOFOLLOW, LibC.STATX_BASIC_STATS, st) == 0;
        return exists || Errno is LibC.ENOENT or LibC.ENOTDIR;
    }

    /// <summary>PosixPath.CheckOwned: the right type, our user, one of our groups, exactly <paramref name="mode"/>.</summary>
    private static bool IsOwned(in LibC.Statx st, bool directory, uint mode)
    {
        if (directory ? !st.IsDirectory : !st.IsRegularFile)
            return false;
        return st.Uid == GetEuid() && IsOurGroup(st.Gid) && st.Permissions == mode;
    }

    private static bool IsOurGroup(uint gid)
    {
        if (gid == GetEgid())
            return true;
        uint* groups = stackalloc uint[1024];
        int count = GetGroups(1024, groups);
        for (int i = 0; i < count; i++)
            if (groups[i] == gid)
                return true;
        return false;
    }

    /// <summary>PosixPath.MoveAboveStandardDescriptors: a descriptor that lives on in the program is never 0, 1 or 2.</summary>
    private static int MoveAboveStandardDescriptors(int fd)
    {
        if (fd < 0 || fd > 2)
            return fd;
        int moved = Fcntl(fd, LibC.F_DUPFD, 3);
        Close(fd);
        return moved;
    }

    /// <summary>ProcessImage.Exec of <c>/bin/sh -e SCRIPT XARPATH ARGS...</c>; returns only when execv failed.</summary>
    private static void Exec(int argc, byte** argv, byte* script)
    {
        // On the stack for any usual command line; malloc for a huge one (its first use costs syscalls).
        const int OnStack = 256;
        byte** stackArgs = stackalloc byte*[OnStack];
        byte** args = argc + 3 <= OnStack ? stackArgs : (byte**)Malloc((nuint)(argc + 3) * (nuint)sizeof(byte*));
        if (args == null)
            return;
        fixed (byte* sh = "/bin/sh\0"u8)
        fixed (byte* e = "-e\0"u8)
        {
            args[0] = sh;
            args[1] = e;
            args[2] = script;
            for (int i = 1; i < argc; i++)
                args[2 + i] = argv[i];
            args[argc + 2] = null;
            Signal(LibC.SIGPIPE, 0 /* SIG_DFL */);
            Execv(sh, args);
        }
        if (args != stackArgs)
            Free(args);
    }

    /// <summary>The environment as the process received it (envp), read the way .NET reads it: first entry wins.</summary>
    private readonly struct ProcessEnvironment(byte** envp)
    {
        private readonly byte** _envp = envp;

        public byte** Envp => _envp;

        /// <summary>The value of <paramref name="name"/>; IsNull when unset.</summary>
        public NativeText Get(ReadOnlySpan<byte> name)
        {
            for (byte** entry = _envp; *entry != null; entry++)
            {
                byte* text = *entry;
                int i = 0;
                while (i < name.Length && text[i] == name[i])
                    i++;
                if (i == name.Length && text[i] == '=')
                    return NativeText.FromCString(text + i + 1);
            }
            return default;
        }

        /// <summary>FuseMount.TimeoutSeconds, once <see cref="MountTimeoutIsValid"/>: unset 870, empty 0.</summary>
        public long MountTimeoutSeconds()
        {
            TryMountTimeoutSeconds(out long seconds);
            return seconds;
        }

        /// <summary>FuseMount.TimeoutSeconds would throw on a bad XAR_MOUNT_TIMEOUT even for a live mount: leave that to Main.</summary>
        public bool MountTimeoutIsValid() => TryMountTimeoutSeconds(out _);

        /// <summary>FuseMount.TimeoutSeconds without its trimming (text it would trim goes to Main): false where it would throw.</summary>
        private bool TryMountTimeoutSeconds(out long seconds)
        {
            seconds = 0;
            var text = Get("XAR_MOUNT_TIMEOUT"u8);
            if (text.IsNull)
            {
                seconds = 870;
                return true;
            }
            if (text.Length > 10)
                return false;
            for (int i = 0; i < text.Length; i++)
            {
                if (text[i] is < (byte)'0' or > (byte)'9')
                    return false;
                seconds = seconds * 10 + (text[i] - '0');
            }
            return seconds <= int.MaxValue;
        }
    }
}
