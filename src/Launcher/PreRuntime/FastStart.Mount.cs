using Xar.Posix;
using static Xar.Posix.RawLibC;

namespace Xar.Launcher.PreRuntime;

/// <summary>The mount path: XarMountLayout.Locate, XarMounter.MountOrReuse and Launch.RunMounted, for a mount that is live or that squashfuse makes now.</summary>
internal static unsafe partial class FastStart
{
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
        int lockFd = OpenLock(lockPath.CString, LibC.LOCK_EX, create: true);
        if (lockFd < 0)
            return Outcome.Defer;
        if (Mkdir(mountPath.CString, (int)MountDirectoryMode) == 0)
            Chmod(mountPath.CString, (int)MountDirectoryMode); // whatever the umask; checked below
        else if (Errno != LibC.EEXIST)
            return CloseAndDefer(lockFd);
        long* fs = stackalloc long[32];
        if (StatFs(mountPath.CString, fs) != 0)
            return CloseAndDefer(lockFd); // broken (LibC.ENOTCONN): Main unmounts and mounts again
        bool isNewMount = fs[0] != LibC.FUSE_SUPER_MAGIC;
        if (isNewMount)
        {
            // Checked only now: once mounted, the directory shows the image root's owner and mode.
            LibC.Statx st;
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
        int targetFd = Futimens(lockFd, null) == 0 ? MoveAboveStandardDescriptors(Open(entry.CString, LibC.O_RDONLY | LibC.O_NOCTTY, 0)) : -1;
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
        else if (Errno != LibC.EEXIST)
        {
            return false;
        }
        LibC.Statx st;
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

        byte* optionsBuffer = stackalloc byte[PathBuilder.Capacity]; // PathBuilder's size, whatever the text
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
            if (StatFs(mountPath, fs) == 0 && fs[0] == LibC.FUSE_SUPER_MAGIC)
                return Outcome.Mounted;
            if (waited > 9_000_000)
            {
                HelperProcess.TryUnmountLazily(mountPath, pathVariable, env.Envp);
                return lowLevel ? Outcome.LowLevelMountDidNotAppear : Outcome.HighLevelMountDidNotAppear;
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
        int total;
        fixed (byte* conf = "/etc/fuse.conf\0"u8)
            total = ReadFile(conf, 0, text, 4096, out _); // XarMountLayout.ReadSmallFile: what was read counts
        if (total is < 0 or >= 4096)
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
        LibC.Statx st;
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
        root.TrimTrailingSlashes();
        return null;
    }

    /// <summary>XarMountLayout.DirectoryName: <c>UUID[-seed-SEED]-ns-MNTNS</c>.</summary>
    private static bool TryDirectoryName(ProcessEnvironment env, NativeText uuid, ref PathBuilder name)
    {
        name.Append(uuid);
        var seed = env.Get("XAR_MOUNT_SEED"u8);
        LibC.Statx st;
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
                name.AppendDecimal(st.Ino);
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
            name.AppendDecimal(st.Ino);
        }
        return name.Fits;
    }

    private enum CgroupLookup { Found, None, Unsure }

    /// <summary>XarMountLayout.CgroupInode: the path on the first line of /proc/self/cgroup, under /sys/fs/cgroup or /cgroup2.</summary>
    private static CgroupLookup CgroupInode(out ulong inode)
    {
        inode = 0;
        byte* text = stackalloc byte[4096];
        int total;
        fixed (byte* cgroupFile = "/proc/self/cgroup\0"u8)
            total = ReadFile(cgroupFile, 0, text, 4096, out _); // XarMountLayout.ReadSmallFile: what was read counts
        if (total is < 0 or >= 4096)
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
        LibC.Statx st;
        for (int attempt = 0; attempt < 2; attempt++)
        {
            var full = new PathBuilder(buffer);
            full.Append(attempt == 0 ? "/sys/fs/cgroup"u8 : "/cgroup2"u8);
            full.Append((byte)'/');
            full.Append(path);
            if (!full.Fits)
                return CgroupLookup.Unsure;
            if (StatxAt(LibC.AT_FDCWD, full.CString, 0, LibC.STATX_BASIC_STATS, &st) == 0)
            {
                inode = st.Ino;
                return CgroupLookup.Found;
            }
        }
        return CgroupLookup.None;
    }
}
