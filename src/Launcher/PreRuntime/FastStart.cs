using System.Runtime;
using static Xar.Launcher.PreRuntime.RawLibC;

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
internal static unsafe class FastStart
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
        Statx fuse;
        bool fuseExists;
        fixed (byte* devFuse = "/dev/fuse\0"u8)
            fuseExists = StatxAt(AT_FDCWD, devFuse, 0, STATX_BASIC_STATS, &fuse) == 0 && !fuse.IsDirectory; // File.Exists
        if (!fuseExists || TryMounted(argc, argv, env, header) == Outcome.UseCache)
            TryCached(argc, argv, env, header);
    }

    /// <summary>Up to <see cref="HeaderBytes"/> bytes of the file; -1 when it cannot be opened or read.</summary>
    private static int ReadHeader(byte* path, byte* buffer)
    {
        int fd = Open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY, 0);
        if (fd < 0)
            return -1;
        int total = 0;
        while (total < HeaderBytes)
        {
            nint n = Read(fd, buffer + total, HeaderBytes - total);
            if (n < 0 && Errno == EINTR)
                continue;
            if (n < 0)
            {
                total = -1;
                break;
            }
            if (n == 0)
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

    // ---- the mount path: XarMountLayout.Locate, XarMounter.MountOrReuse (live mount), Launch.RunMounted ----

    private static Outcome TryMounted(int argc, byte** argv, ProcessEnvironment env, in HeaderScan header)
    {
        uint savedUmask = Umask(0x12); // 022 for what we create, as Launch does; restored before exec
        var outcome = TryMountedUnderUmask(argc, argv, env, header, savedUmask);
        Umask(savedUmask);
        return outcome;
    }

    private static Outcome TryMountedUnderUmask(int argc, byte** argv, ProcessEnvironment env, in HeaderScan header, uint savedUmask)
    {
        byte* rootBuffer = stackalloc byte[PathBuilder.Capacity];
        var root = new PathBuilder(rootBuffer);
        var outcome = ResolveMountRoot(env, header, ref root);
        if (outcome != null)
            return outcome.Value;

        byte* userBuffer = stackalloc byte[PathBuilder.Capacity];
        var userDirectory = new PathBuilder(userBuffer);
        if (!(root.Length == 1 && rootBuffer[0] == '/'))
            userDirectory.Append(root.Text);
        userDirectory.Append("/uid-"u8);
        userDirectory.AppendDecimal(GetEuid());

        byte* nameBuffer = stackalloc byte[PathBuilder.Capacity];
        var name = new PathBuilder(nameBuffer);
        if (!TryDirectoryName(env, header.Uuid, ref name))
            return Outcome.Defer;

        byte* lockBuffer = stackalloc byte[PathBuilder.Capacity];
        var lockPath = new PathBuilder(lockBuffer);
        lockPath.Append(userDirectory.Text);
        lockPath.Append("/lockfile."u8);
        lockPath.Append(name.Text);
        byte* mountBuffer = stackalloc byte[PathBuilder.Capacity];
        var mountPath = new PathBuilder(mountBuffer);
        mountPath.Append(userDirectory.Text);
        mountPath.Append((byte)'/');
        mountPath.Append(name.Text);
        byte* entryBuffer = stackalloc byte[PathBuilder.Capacity];
        var entry = new PathBuilder(entryBuffer);
        entry.Append(mountPath.Text);
        entry.Append((byte)'/');
        entry.Append(header.ExecTarget);
        if (!userDirectory.Fits || !lockPath.Fits || !mountPath.Fits || !entry.Fits)
            return Outcome.Defer;

        // XarMounter.MountOrReuse, up to the mount itself.
        if (!EnsureOwnedDirectory(userDirectory.CString, UserDirectoryMode))
            return Outcome.Defer;
        int lockFd = OpenLock(lockPath.CString, LOCK_EX, create: true);
        if (lockFd < 0)
            return Outcome.Defer;
        if (Mkdir(mountPath.CString, (int)MountDirectoryMode) == 0)
            Chmod(mountPath.CString, (int)MountDirectoryMode); // whatever the umask; checked below
        else if (Errno != EEXIST)
            return CloseAndDefer(lockFd);
        long* fs = stackalloc long[32];
        if (StatFs(mountPath.CString, fs) != 0)
            return CloseAndDefer(lockFd); // broken (ENOTCONN): Main unmounts and mounts again
        bool isNewMount = fs[0] != FUSE_SUPER_MAGIC;
        if (isNewMount)
        {
            // Checked only now: once mounted, the directory shows the image root's owner and mode.
            Statx st;
            if (!TryStat(mountPath.CString, follow: false, &st, out bool exists) || !exists || !IsOwned(st, directory: true, MountDirectoryMode))
                return CloseAndDefer(lockFd);
            var mounted = Mount(argv[1], header.Offset, mountPath.CString, env);
            if (mounted != Outcome.Mounted)
            {
                Close(lockFd);
                return mounted; // FUSE cannot serve: the cache, as Launch falls back to it
            }
        }
        // Held open and inherited, so the mount cannot time out between exec and the shell opening it.
        int targetFd = Futimens(lockFd, null) == 0 ? MoveAboveStandardDescriptors(Open(entry.CString, O_RDONLY | O_NOCTTY, 0)) : -1;
        if (targetFd >= 0)
        {
            fixed (byte* newMountName = "XARFUSE_NEW_MOUNT\0"u8)
            fixed (byte* one = "1\0"u8)
            {
                if (isNewMount)
                    SetEnv(newMountName, one, 1);
                else
                    UnsetEnv(newMountName);
            }
            Umask(savedUmask);
            Exec(argc, argv, entry.CString);
            Umask(0x12);
            Close(targetFd);
        }
        // A failed start leaves no mount behind; Main tries again and says what went wrong.
        if (isNewMount)
            HelperProcess.TryUnmountLazily(mountPath.CString, env.Get("PATH"u8), env.Envp);
        return CloseAndDefer(lockFd);
    }

    private static Outcome CloseAndDefer(int fd)
    {
        Close(fd);
        return Outcome.Defer;
    }

    /// <summary>PosixPath.EnsureOwnedDirectory: created with <paramref name="mode"/> unless it exists, then checked.</summary>
    private static bool EnsureOwnedDirectory(byte* path, uint mode)
    {
        if (Mkdir(path, (int)mode) == 0)
        {
            if (Chmod(path, (int)mode) != 0)
                return false;
        }
        else if (Errno != EEXIST)
        {
            return false;
        }
        Statx st;
        return TryStat(path, follow: false, &st, out bool exists) && exists && IsOwned(st, directory: true, mode);
    }

    /// <summary>
    /// FuseMount.Mount: <c>squashfuse_ll -o offset=N[,timeout=T][,allow_root] IMAGE MOUNTPOINT</c> (or
    /// squashfuse, without the timeout it rejects), then waits for the mount to serve. UseCache when
    /// squashfuse is missing or fails, or its mount does not appear (then nothing is left mounted).
    /// </summary>
    private static Outcome Mount(byte* xarPath, long offset, byte* mountPath, ProcessEnvironment env)
    {
        var pathVariable = env.Get("PATH"u8);
        byte* programBuffer = stackalloc byte[PathBuilder.Capacity];
        var program = new PathBuilder(programBuffer);
        bool lowLevel = HelperProcess.TryFind(pathVariable, "squashfuse_ll"u8, ref program, systemFallbacks: false);
        if (!lowLevel && !HelperProcess.TryFind(pathVariable, "squashfuse"u8, ref program, systemFallbacks: false))
            return Outcome.UseCache;

        byte* optionsBuffer = stackalloc byte[256];
        var options = new PathBuilder(optionsBuffer);
        options.Append("offset="u8);
        options.AppendDecimal((ulong)offset);
        long timeout = env.MountTimeoutSeconds();
        if (timeout > 0 && lowLevel)
        {
            options.Append(",timeout="u8);
            options.AppendDecimal((ulong)timeout);
        }
        switch (FuseConfAllowsOther())
        {
            case null:
                return Outcome.Defer;
            case true:
                options.Append(",allow_root"u8);
                break;
        }

        byte* imageBuffer = stackalloc byte[PathBuilder.Capacity];
        var image = new PathBuilder(imageBuffer);
        if (!TryFullPath(NativeText.FromCString(xarPath), ref image))
            return Outcome.Defer;

        byte** args = stackalloc byte*[6];
        fixed (byte* dashO = "-o\0"u8)
        {
            args[0] = program.CString;
            args[1] = dashO;
            args[2] = options.CString;
            args[3] = image.CString;
            args[4] = mountPath;
            args[5] = null;
            if (!HelperProcess.RunAndSucceed(program.CString, args, env.Envp))
                return Outcome.UseCache;
        }

        // FuseMount.WaitForMount: up to 9 s, polling from 50 us up to every 20 ms.
        long* fs = stackalloc long[32];
        long sleep = 50, waited = 0;
        while (true)
        {
            if (StatFs(mountPath, fs) == 0 && fs[0] == FUSE_SUPER_MAGIC)
                return Outcome.Mounted;
            if (waited > 9_000_000)
            {
                HelperProcess.TryUnmountLazily(mountPath, pathVariable, env.Envp);
                return Outcome.UseCache;
            }
            HelperProcess.SleepMicroseconds(sleep);
            waited += sleep;
            sleep = sleep * 2 > 20_000 ? 20_000 : sleep * 2;
        }
    }

    /// <summary>FuseMount.FuseConfAllowsOther: a <c>user_allow_other</c> line in /etc/fuse.conf; null when unsure.</summary>
    private static bool? FuseConfAllowsOther()
    {
        byte* text = stackalloc byte[4096];
        int fd;
        fixed (byte* conf = "/etc/fuse.conf\0"u8)
            fd = Open(conf, O_RDONLY | O_CLOEXEC, 0);
        if (fd < 0)
            return false;
        int total = 0;
        while (total < 4096)
        {
            nint n = Read(fd, text + total, 4096 - total);
            if (n < 0 && Errno == EINTR)
                continue;
            if (n <= 0)
                break;
            total += (int)n;
        }
        Close(fd);
        if (total >= 4096)
            return false;
        var all = new NativeText(text, total);
        for (int i = 0; i < total; i++)
            if (text[i] >= 0x80)
                return null; // .NET trims Unicode spaces too: leave such a file to Main
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

    /// <summary>Path.GetFullPath: the current directory in front of a relative path; ".", ".." and repeated '/' resolved as text.</summary>
    private static bool TryFullPath(NativeText path, ref PathBuilder full)
    {
        byte* joined = stackalloc byte[PathBuilder.Capacity];
        var raw = new PathBuilder(joined);
        if (path.IsEmpty || !path.IsPlainAscii())
            return false;
        if (path[0] != '/')
        {
            if (GetCwd(joined, PathBuilder.Capacity) == null)
                return false;
            raw.Truncate(NativeText.FromCString(joined).Length);
            raw.Append((byte)'/');
        }
        raw.Append(path);
        if (!raw.Fits)
            return false;
        var text = raw.Text;
        full.Truncate(0);
        int i = 0;
        while (i < text.Length)
        {
            while (i < text.Length && text[i] == '/')
                i++;
            int end = text.IndexOf((byte)'/', i);
            if (end < 0)
                end = text.Length;
            int length = end - i;
            if (length == 0 || (length == 1 && text[i] == '.'))
            {
            }
            else if (length == 2 && text[i] == '.' && text[i + 1] == '.')
            {
                int last = full.Length;
                while (last > 0 && full.CString[last - 1] != '/')
                    last--;
                full.Truncate(last > 0 ? last - 1 : 0);
            }
            else
            {
                full.Append((byte)'/');
                full.Append(text.Slice(i, length));
            }
            i = end;
        }
        if (full.Length == 0)
            full.Append((byte)'/');
        if (text[text.Length - 1] == '/' && full.Length > 1)
            full.Append((byte)'/');
        return full.Fits;
    }

    /// <summary>
    /// XarMountLayout.ResolveMountRoot into <paramref name="root"/>: null when found; UseCache when no
    /// default root exists; Defer when a root is not as it must be (Main says why).
    /// </summary>
    private static Outcome? ResolveMountRoot(ProcessEnvironment env, in HeaderScan header, ref PathBuilder root)
    {
        var named = env.Get("XAR_MOUNT_ROOT"u8);
        if (named.IsNull || named.IsEmpty)
            named = header.MountRoot;
        Statx st;
        bool exists;
        if (named.IsNull || named.IsEmpty)
        {
            root.Append("/mnt/xarfuse"u8);
            if (!TryStat(root.CString, follow: true, &st, out exists))
                return Outcome.Defer;
            if (exists && st.IsDirectory && st.Permissions == RootMode)
                return null;
            root.Truncate(0);
            root.Append("/dev/shm"u8);
            if (!TryStat(root.CString, follow: true, &st, out exists))
                return Outcome.Defer;
            return exists && st.IsDirectory && st.Permissions == RootMode ? null : Outcome.UseCache;
        }
        if (!named.IsPlainAscii())
            return Outcome.Defer;
        root.Append(named);
        if (!root.Fits || !TryStat(root.CString, follow: true, &st, out exists) || !exists || !st.IsDirectory
            || st.Permissions != RootMode || (st.Uid != 0 && st.Uid != GetEuid()))
            return Outcome.Defer;
        int trimmed = root.Length;
        if (trimmed > 1)
            while (trimmed > 0 && root.CString[trimmed - 1] == '/')
                trimmed--;
        root.Truncate(trimmed);
        return null;
    }

    /// <summary>XarMountLayout.DirectoryName: <c>UUID[-seed-SEED]-ns-MNTNS</c>.</summary>
    private static bool TryDirectoryName(ProcessEnvironment env, NativeText uuid, ref PathBuilder name)
    {
        name.Append(uuid);
        var seed = env.Get("XAR_MOUNT_SEED"u8);
        Statx st;
        bool exists;
        if (!seed.IsNull && !seed.IsEmpty && seed.IndexOf((byte)'/') < 0)
        {
            if (!seed.IsPlainAscii())
                return false;
            name.Append("-seed-"u8);
            name.Append(seed);
        }
        else
        {
            fixed (byte* pidNs = "/proc/self/ns/pid\0"u8)
                if (!TryStat(pidNs, follow: true, &st, out exists))
                    return false;
            if (exists)
            {
                name.Append("-seed-nspid"u8);
                name.AppendDecimal(st.Inode);
                switch (CgroupInode(out ulong cgroup))
                {
                    case CgroupLookup.Found:
                        name.Append("_cgpid"u8);
                        name.AppendDecimal(cgroup);
                        break;
                    case CgroupLookup.Unsure:
                        return false;
                }
            }
        }
        fixed (byte* mntNs = "/proc/self/ns/mnt\0"u8)
            if (!TryStat(mntNs, follow: true, &st, out exists))
                return false;
        if (exists)
        {
            name.Append("-ns-"u8);
            name.AppendDecimal(st.Inode);
        }
        return name.Fits;
    }

    private enum CgroupLookup { Found, None, Unsure }

    /// <summary>XarMountLayout.CgroupInode: the path on the first line of /proc/self/cgroup, under /sys/fs/cgroup or /cgroup2.</summary>
    private static CgroupLookup CgroupInode(out ulong inode)
    {
        inode = 0;
        byte* text = stackalloc byte[4096];
        int fd;
        fixed (byte* cgroupFile = "/proc/self/cgroup\0"u8)
            fd = Open(cgroupFile, O_RDONLY | O_CLOEXEC, 0);
        if (fd < 0)
            return CgroupLookup.None;
        int total = 0;
        while (total < 4096)
        {
            nint n = Read(fd, text + total, 4096 - total);
            if (n < 0 && Errno == EINTR)
                continue;
            if (n <= 0)
                break;
            total += (int)n;
        }
        Close(fd);
        if (total >= 4096)
            return CgroupLookup.None;
        var all = new NativeText(text, total);
        int newline = all.IndexOf((byte)'\n');
        var firstLine = newline >= 0 ? all.Slice(0, newline) : all;
        int first = firstLine.IndexOf((byte)':');
        int second = first < 0 ? -1 : firstLine.IndexOf((byte)':', first + 1);
        if (second < 0)
            return CgroupLookup.None;
        var path = firstLine.Slice(second + 1);
        if (!path.IsPlainAscii())
            return CgroupLookup.Unsure;
        byte* buffer = stackalloc byte[PathBuilder.Capacity];
        Statx st;
        for (int attempt = 0; attempt < 2; attempt++)
        {
            var full = new PathBuilder(buffer);
            full.Append(attempt == 0 ? "/sys/fs/cgroup"u8 : "/cgroup2"u8);
            full.Append((byte)'/');
            full.Append(path);
            if (!full.Fits)
                return CgroupLookup.Unsure;
            if (StatxAt(AT_FDCWD, full.CString, 0, STATX_BASIC_STATS, &st) == 0)
            {
                inode = st.Inode;
                return CgroupLookup.Found;
            }
        }
        return CgroupLookup.None;
    }

    // ---- the extraction cache: XarCache.Roots / TryOpenExisting, Launch.RunExtracted (entry present) ----

    private static void TryCached(int argc, byte** argv, ProcessEnvironment env, in HeaderScan header)
    {
        const int MaxRoots = 4;
        byte* buffers = stackalloc byte[MaxRoots * PathBuilder.Capacity];
        bool* shared = stackalloc bool[MaxRoots];
        int* lengths = stackalloc int[MaxRoots];
        int count = 0;
        byte* scratch = stackalloc byte[PathBuilder.Capacity];
        uint euid = GetEuid();

        for (int candidate = 0; candidate < MaxRoots; candidate++)
        {
            var path = new PathBuilder(scratch);
            var xdg = env.Get("XDG_CACHE_HOME"u8);
            var home = env.Get("HOME"u8);
            var tmp = env.Get("TMPDIR"u8);
            switch (candidate)
            {
                case 0:
                    path.Append(env.Get("XAR_CACHE_DIR"u8));
                    break;
                case 1:
                    if (!xdg.IsNull && !xdg.IsEmpty)
                    {
                        path.Append(xdg);
                        path.Append("/xar"u8);
                    }
                    else if (!home.IsNull && !home.IsEmpty)
                    {
                        path.Append(home);
                        path.Append("/.cache/xar"u8);
                    }
                    break;
                case 2:
                    if (tmp.IsNull || tmp.IsEmpty)
                    {
                        path.Append("/tmp"u8);
                    }
                    else
                    {
                        int end = tmp.Length;
                        while (end > 0 && tmp[end - 1] == '/')
                            end--;
                        path.Append(tmp.Slice(0, end));
                    }
                    path.Append("/xar-"u8);
                    path.AppendDecimal(euid);
                    break;
                default:
                    path.Append("/var/tmp/xar-"u8);
                    path.AppendDecimal(euid);
                    break;
            }
            if (path.Length == 0 || scratch[0] != '/')
                continue;
            if (!path.Fits || !path.Text.IsPlainAscii())
                return;
            int trimmed = path.Length;
            if (trimmed > 1)
                while (trimmed > 0 && scratch[trimmed - 1] == '/')
                    trimmed--;
            path.Truncate(trimmed);
            bool duplicate = false;
            for (int i = 0; i < count; i++)
                duplicate |= new NativeText(buffers + i * PathBuilder.Capacity, lengths[i]).SequenceEqual(path.Text);
            if (duplicate)
                continue;
            var kept = new PathBuilder(buffers + count * PathBuilder.Capacity);
            kept.Append(path.Text);
            lengths[count] = kept.Length;
            shared[count] = candidate >= 2;
            count++;
        }

        byte* entryBuffer = stackalloc byte[PathBuilder.Capacity];
        byte* lockBuffer = stackalloc byte[PathBuilder.Capacity];
        byte* scriptBuffer = stackalloc byte[PathBuilder.Capacity];
        Statx st;
        bool exists;
        for (int i = 0; i < count; i++)
        {
            var root = new NativeText(buffers + i * PathBuilder.Capacity, lengths[i]);
            var entry = new PathBuilder(entryBuffer);
            entry.Append(root);
            entry.Append((byte)'/');
            entry.Append(header.Uuid);
            var lockPath = new PathBuilder(lockBuffer);
            lockPath.Append(root);
            lockPath.Append("/lockfile."u8);
            lockPath.Append(header.Uuid);
            var script = new PathBuilder(scriptBuffer);
            script.Append(entry.Text);
            script.Append((byte)'/');
            script.Append(header.ExecTarget);
            if (!entry.Fits || !lockPath.Fits || !script.Fits)
                return;
            if (!TryStat(entry.CString, follow: false, &st, out exists))
                return;
            if (!exists || !st.IsDirectory || st.Uid != euid)
                continue;
            if (!TryStat(lockPath.CString, follow: false, &st, out exists))
                return;
            if (!exists)
                continue;
            if (!CacheRootUsable(root.Start, shared[i]))
                return;
            int lockFd = OpenLock(lockPath.CString, LOCK_SH);
            if (lockFd < 0)
                return;
            if (!TryStat(entry.CString, follow: false, &st, out exists) || !exists || !st.IsDirectory)
            {
                Close(lockFd); // gc took it while we waited: Main extracts again
                return;
            }
            // The program inherits the shared lock: gc never deletes an entry in use.
            if (Futimens(lockFd, null) == 0 && StatxAt(AT_FDCWD, script.CString, 0, STATX_BASIC_STATS, &st) == 0)
            {
                int inherited = MoveAboveStandardDescriptors(lockFd);
                int flags = inherited < 0 ? -1 : Fcntl(inherited, F_GETFD, 0);
                if (flags >= 0 && Fcntl(inherited, F_SETFD, flags & ~FD_CLOEXEC) == 0)
                {
                    fixed (byte* newMount = "XARFUSE_NEW_MOUNT\0"u8)
                        UnsetEnv(newMount);
                    Exec(argc, argv, script.CString);
                }
                lockFd = inherited;
            }
            if (lockFd >= 0)
                Close(lockFd);
            return;
        }
    }

    /// <summary>XarCache.CheckRoot: a shared root is ours, 0700, not a link; the user's own may be a link, ours, writable by us alone.</summary>
    private static bool CacheRootUsable(byte* root, bool isShared)
    {
        Statx st;
        if (!TryStat(root, follow: !isShared, &st, out bool exists) || !exists)
            return false;
        if (isShared)
            return IsOwned(st, directory: true, CacheDirectoryMode);
        return st.IsDirectory && st.Uid == GetEuid() && (st.Permissions & 0x12) == 0 && Access(root, W_OK) == 0;
    }

    // ---- shared steps ----

    /// <summary>
    /// XarLockFile.Acquire for a lock file that exists: opened without following a link, checked
    /// (a regular file of ours, 0600), locked, and still the file at the path. -1 otherwise.
    /// </summary>
    private static int OpenLock(byte* path, int operation, bool create = false)
    {
        int fd;
        do
            fd = Open(path, O_RDWR | O_CLOEXEC | O_NOFOLLOW | O_NOCTTY | O_NONBLOCK | (create ? O_CREAT : 0), (int)LockFileMode);
        while (fd < 0 && Errno == EINTR);
        if (fd < 0)
            return -1;
        Statx held, now;
        bool exists = false;
        if (StatxAt(fd, EmptyPath(), AT_EMPTY_PATH, STATX_BASIC_STATS, &held) != 0 || !IsOwned(held, directory: false, LockFileMode))
        {
            Close(fd);
            return -1;
        }
        int locked;
        do
            locked = Flock(fd, operation);
        while (locked != 0 && Errno == EINTR);
        // gc deletes lock files it holds: the lock must be on the file now at the path.
        if (locked != 0 || !TryStat(path, follow: false, &now, out exists) || !exists || now.Inode != held.Inode)
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
    private static bool TryStat(byte* path, bool follow, Statx* st, out bool exists)
    {
        exists = StatxAt(AT_FDCWD, path, follow ? 0 : AT_SYMLINK_NOFOLLOW, STATX_BASIC_STATS, st) == 0;
        return exists || Errno is ENOENT or ENOTDIR;
    }

    /// <summary>PosixPath.CheckOwned: the right type, our user, one of our groups, exactly <paramref name="mode"/>.</summary>
    private static bool IsOwned(in Statx st, bool directory, uint mode)
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
        int moved = Fcntl(fd, F_DUPFD, 3);
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
            Signal(SIGPIPE, 0 /* SIG_DFL */);
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
            var text = Get("XAR_MOUNT_TIMEOUT"u8);
            if (text.IsNull)
                return 870;
            long value = 0;
            for (int i = 0; i < text.Length; i++)
                value = value * 10 + (text[i] - '0');
            return value;
        }

        /// <summary>FuseMount.TimeoutSeconds would throw on a bad XAR_MOUNT_TIMEOUT even for a live mount: leave that to Main.</summary>
        public bool MountTimeoutIsValid()
        {
            var text = Get("XAR_MOUNT_TIMEOUT"u8);
            if (text.IsNull || text.IsEmpty)
                return true;
            if (text.Length > 10)
                return false;
            long value = 0;
            for (int i = 0; i < text.Length; i++)
            {
                if (text[i] is < (byte)'0' or > (byte)'9')
                    return false;
                value = value * 10 + (text[i] - '0');
            }
            return value <= int.MaxValue;
        }
    }
}
