using Xar.Posix;
using static Xar.Posix.RawLibC;

namespace Xar.Runtime.Launching;

/// <summary>
/// The mount: <c>ROOT/uid-EUID/UUID[-seed-SEED]-ns-MNTNS</c> (Facebook's names, so one XAR shares one mount
/// per user, namespace and cgroup whichever launcher started it), its lock <c>ROOT/uid-EUID/lockfile.NAME</c>.
/// </summary>
public static unsafe partial class LaunchCore
{
    /// <summary>
    /// Mounts the image (or reuses the live mount) and, in Run mode, execs the target from it. None when done
    /// or failed (the outcome says which); otherwise why FUSE cannot serve, and the cache is used instead.
    /// </summary>
    private static FuseUnavailability RunMounted(ref Launch launch, in XarHeaderScan header, ref LaunchOutcome outcome)
    {
        LibC.Statx st;
        fixed (byte* devFuse = "/dev/fuse\0"u8)
            if (StatxAt(LibC.AT_FDCWD, devFuse, 0, LibC.STATX_BASIC_STATS, &st) != 0 || st.IsDirectory)
                return FuseUnavailability.NoDevFuse;

        byte* rootBuffer = stackalloc byte[PathBuilder.Capacity];
        var root = new PathBuilder(rootBuffer);
        var found = ResolveMountRoot(launch.Env, header, ref root, ref outcome);
        if (found != FuseUnavailability.None || outcome.Problem != LaunchProblem.None)
            return found;
        uint savedUmask = Umask(CreationUmask);
        byte* canonical = stackalloc byte[PathBuilder.Capacity];
        int rootFd = TrustedDirectory.Open(root.CString, followLast: true, checkLast: false, LaunchSubject.MountRoot, canonical, ref outcome);
        if (rootFd >= 0)
        {
            root.Truncate(0);
            root.Append(NativeText.FromCString(canonical));
        }
        if (rootFd < 0 || !CheckMountRoot(rootFd, root.CString, ref outcome))
        {
            if (rootFd >= 0)
                Close(rootFd);
            Umask(savedUmask);
            return FuseUnavailability.None;
        }
        var reason = MountUnder(ref launch, header, rootFd, ref root, savedUmask, ref outcome);
        Close(rootFd);
        Umask(savedUmask);
        return reason;
    }

    private static FuseUnavailability MountUnder(ref Launch launch, in XarHeaderScan header, int rootFd, ref PathBuilder root, uint savedUmask, ref LaunchOutcome outcome)
    {
        // Names and paths (the paths for messages, the FUSE server and exec: every directory on them is trusted).
        byte* userName = stackalloc byte[32];
        var user = new PathBuilder(userName, 32);
        user.Append("uid-"u8);
        user.AppendDecimal(GetEuid());
        byte* nameBuffer = stackalloc byte[PathBuilder.Capacity];
        var name = new PathBuilder(nameBuffer);
        DirectoryName(launch.Env, new NativeText(header.Uuid), ref name);
        byte* lockName = stackalloc byte[PathBuilder.Capacity];
        var lockFile = new PathBuilder(lockName);
        lockFile.Append("lockfile."u8);
        lockFile.Append(name.Text);
        byte* userPathBuffer = stackalloc byte[PathBuilder.Capacity];
        var userPath = new PathBuilder(userPathBuffer);
        if (!(root.Length == 1 && root.CString[0] == '/'))
            userPath.Append(root.Text);
        userPath.Append((byte)'/');
        userPath.Append(user.Text);
        byte* lockPathBuffer = stackalloc byte[PathBuilder.Capacity];
        var lockPath = new PathBuilder(lockPathBuffer);
        lockPath.Append(userPath.Text);
        lockPath.Append((byte)'/');
        lockPath.Append(lockFile.Text);
        byte* mountPathBuffer = stackalloc byte[PathBuilder.Capacity];
        var mountPath = new PathBuilder(mountPathBuffer);
        mountPath.Append(userPath.Text);
        mountPath.Append((byte)'/');
        mountPath.Append(name.Text);
        byte* entryBuffer = stackalloc byte[PathBuilder.Capacity];
        var entry = new PathBuilder(entryBuffer);
        entry.Append(mountPath.Text);
        entry.Append((byte)'/');
        entry.Append(launch.Target);
        if (!name.Fits || !lockFile.Fits || !lockPath.Fits || !mountPath.Fits || !entry.Fits)
        {
            LaunchFailure.Set(ref outcome, LaunchSubject.MountDirectory, LaunchProblem.TooLong, LibC.ENAMETOOLONG, root.CString);
            return FuseUnavailability.None;
        }

        // ROOT/uid-EUID: ours, 0755. Another user squatting it cannot stop us: the cache serves then.
        if (MkdirAt(rootFd, user.CString, (int)UserDirectoryMode) == 0)
            FchmodAt(rootFd, user.CString, (int)UserDirectoryMode, 0); // whatever the umask; checked below
        int userFd = OpenAt(rootFd, user.CString, LibC.O_PATH | LibC.O_NOFOLLOW | LibC.O_CLOEXEC, 0);
        LibC.Statx st;
        if (userFd < 0)
        {
            LaunchFailure.Set(ref outcome, LaunchSubject.UserDirectory, LaunchProblem.CannotCreate, Errno, userPath.CString);
            return FuseUnavailability.UserDirectoryUnusable;
        }
        if (!TrustedDirectory.Stat(userFd, &st) || !TrustedDirectory.CheckOwned(st, directory: true, UserDirectoryMode, LaunchSubject.UserDirectory, userPath.CString, ref outcome)
            || !TrustedDirectory.CheckNotMountedOver(rootFd, st, LaunchSubject.UserDirectory, userPath.CString, ref outcome))
        {
            Close(userFd);
            return FuseUnavailability.UserDirectoryUnusable;
        }
        var reason = MountInUserDirectory(ref launch, header, userFd, lockFile.CString, lockPath.CString, name.CString, mountPath.CString, entry.CString, savedUmask, ref outcome);
        if (reason == FuseUnavailability.None && outcome.Subject == LaunchSubject.Target && outcome.Problem == LaunchProblem.TargetNotInImage
            && !outcome.IsNewMount && Probe(userFd, name.CString, mountPath.CString, ref outcome) == MountState.NotMounted)
        {
            // The idle timeout ended the reused mount between the look and the open: mount again, once.
            outcome.Reset(keepDescriptors: true);
            reason = MountInUserDirectory(ref launch, header, userFd, lockFile.CString, lockPath.CString, name.CString, mountPath.CString, entry.CString, savedUmask, ref outcome);
        }
        Close(userFd);
        return reason;
    }

    private static FuseUnavailability MountInUserDirectory(ref Launch launch, in XarHeaderScan header, int userFd, byte* lockName, byte* lockPath,
        byte* name, byte* mountPath, byte* entryPath, uint savedUmask, ref LaunchOutcome outcome)
    {
        int lockFd = OpenLock(userFd, lockName, lockPath, LibC.LOCK_EX, create: true, ref outcome);
        if (lockFd < 0)
            return FuseUnavailability.None;
        if (MkdirAt(userFd, name, (int)MountDirectoryMode) == 0)
            FchmodAt(userFd, name, (int)MountDirectoryMode, 0);
        else if (Errno != LibC.EEXIST)
        {
            LaunchFailure.Set(ref outcome, LaunchSubject.MountDirectory, LaunchProblem.CannotCreate, Errno, mountPath);
            Close(lockFd);
            return FuseUnavailability.None;
        }
        var state = Probe(userFd, name, mountPath, ref outcome);
        if (state == MountState.Broken)
        {
            // Its server died (kill -9): detach the dead mount, then mount again.
            if (!Fuse.FuseUnmount.Lazily(mountPath, launch.Env.Get("PATH"u8), launch.Env.Envp))
            {
                LaunchFailure.Set(ref outcome, LaunchSubject.MountDirectory, LaunchProblem.CannotUnmount, 0, mountPath);
                Close(lockFd);
                return FuseUnavailability.None;
            }
            state = Probe(userFd, name, mountPath, ref outcome);
            if (state != MountState.NotMounted)
            {
                if (state != MountState.Failed)
                    LaunchFailure.Set(ref outcome, LaunchSubject.MountDirectory, LaunchProblem.BrokenMountRemains, 0, mountPath);
                Close(lockFd);
                return FuseUnavailability.None;
            }
        }
        if (state == MountState.Failed)
        {
            Close(lockFd);
            return FuseUnavailability.None;
        }
        if (launch.UnderPolicy && !TrustMount(launch, ref state, lockFd, userFd, name, mountPath, ref outcome))
        {
            Close(lockFd);
            return FuseUnavailability.None;
        }
        bool isNew = state == MountState.NotMounted;
        if (isNew)
        {
            // Checked only now: once mounted, the directory shows the image root's owner and mode.
            LibC.Statx st;
            bool exists;
            if (!TrustedDirectory.StatAt(userFd, name, &st, out exists) || !exists
                || !TrustedDirectory.CheckOwned(st, directory: true, MountDirectoryMode, LaunchSubject.MountDirectory, mountPath, ref outcome))
            {
                if (!exists && outcome.Problem == LaunchProblem.None)
                    LaunchFailure.Set(ref outcome, LaunchSubject.MountDirectory, LaunchProblem.Missing, LibC.ENOENT, mountPath);
                Close(lockFd);
                return FuseUnavailability.None;
            }
            var reason = launch.SquashFuse
                ? SquashFuse.Mount(launch.Env, outcome.XarFd, launch.Offset, launch.TimeoutSeconds, userFd, name, mountPath, ref outcome)
                : FuseServerLaunch.Mount(launch.Env, outcome.XarFd, launch.Offset, launch.TimeoutSeconds, mountPath, ref outcome);
            if (reason != FuseUnavailability.None || outcome.Problem != LaunchProblem.None)
            {
                RemoveUnmounted(userFd, name, lockName, lockFd);
                return reason;
            }
            RecordXarFile(lockFd, outcome.XarFd);
            if (launch.UnderPolicy)
                TrustRecord.Append(lockFd, launch.TrustLine, launch.TrustLength); // made from a checked file
        }
        outcome.IsNewMount = isNew;
        Futimens(lockFd, null); // "last used", for gc
        if (launch.Mode is LaunchMode.Mount or LaunchMode.MountOnly)
        {
            outcome.Status = LaunchStatus.Mounted;
            LaunchFailure.Copy(mountPath, outcome.DirectoryPointer());
            Close(lockFd);
            return FuseUnavailability.None;
        }
        // Held open and inherited, so the mount cannot time out between exec and the shell opening the script.
        int targetFd = OpenTarget(entryPath, launch.Target, ref outcome);
        if (targetFd >= 0)
        {
            Exec(launch, entryPath, savedUmask, newMount: isNew, ref outcome);
            Close(targetFd);
        }
        // A failed start leaves no mount behind.
        if (isNew)
            Fuse.FuseUnmount.Lazily(mountPath, launch.Env.Get("PATH"u8), launch.Env.Envp);
        Close(lockFd);
        return FuseUnavailability.None;
    }

    /// <summary>
    /// After a mount that did not come about, with its lock held: the empty mount directory and the lock file go (a
    /// waiter finds its lock file gone and takes a new one, as after gc), so a failed mount leaves nothing behind.
    /// rmdir removes only an empty directory that nothing is mounted on.
    /// </summary>
    private static void RemoveUnmounted(int userFd, byte* name, byte* lockName, int lockFd)
    {
        if (UnlinkAt(userFd, name, LibC.AT_REMOVEDIR) == 0 || Errno == LibC.ENOENT)
            UnlinkAt(userFd, lockName, 0);
        Close(lockFd);
    }

    private enum MountState { NotMounted, Mounted, Broken, Failed }

    /// <summary>
    /// Under a trust policy, with the mount lock held: a file the record lists was checked and has not changed since,
    /// so it mounts (or reuses the mount) without hashing. Any other file is checked first (NeedsVerification, false).
    /// Once checked, it reuses a mount made from a checked file (and is listed), while a mount made from a file
    /// nobody checked (before the policy, or by another launcher) is detached and made again from this file.
    /// </summary>
    private static bool TrustMount(in Launch launch, ref MountState state, int lockFd, int userFd, byte* name, byte* mountPath, ref LaunchOutcome outcome)
    {
        if (TrustRecord.Lists(lockFd, launch.TrustLine, launch.TrustLength))
            return true;
        if (!launch.VerifiedNow)
        {
            outcome.Status = LaunchStatus.NeedsVerification;
            return false;
        }
        if (state != MountState.Mounted)
            return true;
        if (TrustRecord.ListsAny(lockFd))
        {
            TrustRecord.Append(lockFd, launch.TrustLine, launch.TrustLength);
            return true;
        }
        if (!Fuse.FuseUnmount.Lazily(mountPath, launch.Env.Get("PATH"u8), launch.Env.Envp))
        {
            LaunchFailure.Set(ref outcome, LaunchSubject.MountDirectory, LaunchProblem.CannotUnmount, 0, mountPath);
            return false;
        }
        state = Probe(userFd, name, mountPath, ref outcome);
        if (state == MountState.NotMounted)
            return true;
        if (state != MountState.Failed)
            LaunchFailure.Set(ref outcome, LaunchSubject.MountDirectory, LaunchProblem.BrokenMountRemains, 0, mountPath);
        return false;
    }

    /// <summary>Whether NAME in the user directory is a live FUSE mount, a dead one, or a plain directory.</summary>
    private static MountState Probe(int userFd, byte* name, byte* mountPath, ref LaunchOutcome outcome)
    {
        int fd = OpenAt(userFd, name, LibC.O_PATH | LibC.O_NOFOLLOW | LibC.O_CLOEXEC, 0);
        if (fd < 0)
        {
            int errno = Errno;
            if (errno is LibC.ENOTCONN or LibC.ECONNABORTED)
                return MountState.Broken;
            LaunchFailure.Set(ref outcome, LaunchSubject.MountDirectory, LaunchProblem.CannotOpen, errno, mountPath);
            return MountState.Failed;
        }
        long* fs = stackalloc long[32];
        int result = FStatFs(fd, fs);
        int error = Errno;
        Close(fd);
        if (result == 0)
            return fs[0] == LibC.FUSE_SUPER_MAGIC ? MountState.Mounted : MountState.NotMounted;
        if (error is LibC.ENOTCONN or LibC.ECONNABORTED)
            return MountState.Broken;
        LaunchFailure.Set(ref outcome, LaunchSubject.MountDirectory, LaunchProblem.CannotStat, error, mountPath);
        return MountState.Failed;
    }

    /// <summary>
    /// The lock file NAME in <paramref name="dirFd"/>: opened without following a link, checked (a regular file of
    /// ours, 0600), locked, and still the file at that name (gc deletes lock files it holds). -1 with the outcome filled.
    /// </summary>
    private static int OpenLock(int dirFd, byte* name, byte* path, int operation, bool create, ref LaunchOutcome outcome)
    {
        for (int attempt = 0; attempt < 8; attempt++)
        {
            int fd;
            do
                fd = OpenAt(dirFd, name, LibC.O_RDWR | LibC.O_CLOEXEC | LibC.O_NOFOLLOW | LibC.O_NOCTTY | LibC.O_NONBLOCK | (create ? LibC.O_CREAT : 0), (int)LockFileMode);
            while (fd < 0 && Errno == LibC.EINTR);
            if (fd < 0)
            {
                LaunchFailure.Set(ref outcome, LaunchSubject.LockFile, LaunchProblem.CannotOpen, Errno, path);
                return -1;
            }
            LibC.Statx held, now;
            if (!TrustedDirectory.Stat(fd, &held) || !TrustedDirectory.CheckOwned(held, directory: false, LockFileMode, LaunchSubject.LockFile, path, ref outcome))
            {
                Close(fd);
                return -1;
            }
            int locked;
            do
                locked = Flock(fd, operation);
            while (locked != 0 && Errno == LibC.EINTR);
            if (locked != 0)
            {
                LaunchFailure.Set(ref outcome, LaunchSubject.LockFile, LaunchProblem.CannotLock, Errno, path);
                Close(fd);
                return -1;
            }
            if (TrustedDirectory.StatAt(dirFd, name, &now, out bool exists) && exists && now.IsSameFileAs(held))
                return fd;
            Close(fd); // gc deleted it while we waited: take the new one
            if (!create)
                break;
        }
        LaunchFailure.Set(ref outcome, LaunchSubject.LockFile, LaunchProblem.CannotLock, LibC.ENOENT, path);
        return -1;
    }

    /// <summary>
    /// The mount root: $XAR_MOUNT_ROOT, else the header's MOUNT_ROOT, else the first of /mnt/xarfuse and /dev/shm that
    /// is a directory with mode 1777 (none: NoMountRoot). A named root must be a directory, 1777, owned by root or us.
    /// </summary>
    private static FuseUnavailability ResolveMountRoot(ProcessEnvironment env, in XarHeaderScan header, ref PathBuilder root, ref LaunchOutcome outcome)
    {
        var named = env.Get("XAR_MOUNT_ROOT"u8);
        if (named.IsNull || named.IsEmpty)
            named = new NativeText(header.MountRoot);
        LibC.Statx st;
        if (named.IsNull || named.IsEmpty)
        {
            foreach (var candidate in (ReadOnlySpan<int>)[0, 1])
            {
                root.Truncate(0);
                root.Append(candidate == 0 ? "/mnt/xarfuse"u8 : "/dev/shm"u8);
                if (StatxAt(LibC.AT_FDCWD, root.CString, 0, LibC.STATX_BASIC_STATS, &st) == 0 && st.IsDirectory && st.Permissions == MountRootMode)
                    return FuseUnavailability.None;
            }
            return FuseUnavailability.NoMountRoot;
        }
        root.Append(named);
        if (!root.Fits)
        {
            LaunchFailure.Set(ref outcome, LaunchSubject.MountRoot, LaunchProblem.TooLong, LibC.ENAMETOOLONG, null);
            return FuseUnavailability.None;
        }
        if (StatxAt(LibC.AT_FDCWD, root.CString, 0, LibC.STATX_BASIC_STATS, &st) != 0)
        {
            int errno = Errno;
            LaunchFailure.Set(ref outcome, LaunchSubject.MountRoot, errno == LibC.ENOENT ? LaunchProblem.Missing : LaunchProblem.CannotStat, errno, root.CString);
            return FuseUnavailability.None;
        }
        if (!CheckMountRoot(st, root.CString, ref outcome))
            return FuseUnavailability.None;
        root.TrimTrailingSlashes();
        return FuseUnavailability.None;
    }

    /// <summary>A mount root: a directory, mode 1777, owned by root or us.</summary>
    private static bool CheckMountRoot(in LibC.Statx st, byte* path, ref LaunchOutcome outcome)
    {
        var problem = !st.IsDirectory ? LaunchProblem.NotADirectory
            : st.Permissions != MountRootMode ? LaunchProblem.WrongMode
            : st.Uid != 0 && st.Uid != GetEuid() ? LaunchProblem.WrongOwner : LaunchProblem.None;
        if (problem == LaunchProblem.None)
            return true;
        LaunchFailure.Set(ref outcome, LaunchSubject.MountRoot, problem, 0, path);
        outcome.ObservedUid = st.Uid;
        outcome.ObservedMode = st.Mode;
        outcome.ExpectedMode = MountRootMode;
        return false;
    }

    private static bool CheckMountRoot(int rootFd, byte* path, ref LaunchOutcome outcome)
    {
        LibC.Statx st;
        if (TrustedDirectory.Stat(rootFd, &st))
            return CheckMountRoot(st, path, ref outcome);
        LaunchFailure.Set(ref outcome, LaunchSubject.MountRoot, LaunchProblem.CannotStat, Errno, path);
        return false;
    }

    /// <summary>Locate mode: the mount directory, nothing created or mounted.</summary>
    private static void LocateMount(ProcessEnvironment env, in XarHeaderScan header, ref LaunchOutcome outcome)
    {
        byte* rootBuffer = stackalloc byte[PathBuilder.Capacity];
        var root = new PathBuilder(rootBuffer);
        var reason = ResolveMountRoot(env, header, ref root, ref outcome);
        if (outcome.Problem != LaunchProblem.None)
            return;
        if (reason != FuseUnavailability.None)
        {
            LaunchFailure.Set(ref outcome, LaunchSubject.MountRoot, LaunchProblem.Missing, LibC.ENOENT, null);
            outcome.FuseReason = reason;
            return;
        }
        byte* nameBuffer = stackalloc byte[PathBuilder.Capacity];
        var name = new PathBuilder(nameBuffer);
        DirectoryName(env, new NativeText(header.Uuid), ref name);
        var path = new PathBuilder(outcome.DirectoryPointer());
        if (!(root.Length == 1 && root.CString[0] == '/'))
            path.Append(root.Text);
        path.Append("/uid-"u8);
        path.AppendDecimal(GetEuid());
        path.Append((byte)'/');
        path.Append(name.Text);
        outcome.Status = LaunchStatus.Located;
    }

    /// <summary>
    /// <c>UUID[-seed-SEED]-ns-MNTNS</c>: SEED is $XAR_MOUNT_SEED when set (and free of '/'), else
    /// <c>nspid&lt;pid-namespace inode&gt;[_cgpid&lt;cgroup inode&gt;]</c>, so processes in different pid
    /// namespaces or cgroups never share a server that a cgroup kill could take down.
    /// </summary>
    public static void DirectoryName(ProcessEnvironment env, NativeText uuid, ref PathBuilder name)
    {
        name.Append(uuid);
        var seed = env.Get("XAR_MOUNT_SEED"u8);
        LibC.Statx st;
        if (!seed.IsNull && !seed.IsEmpty && seed.IndexOf((byte)'/') < 0)
        {
            name.Append("-seed-"u8);
            name.Append(seed);
        }
        else
        {
            bool pidNs;
            fixed (byte* path = "/proc/self/ns/pid\0"u8)
                pidNs = StatxAt(LibC.AT_FDCWD, path, 0, LibC.STATX_BASIC_STATS, &st) == 0;
            if (pidNs)
            {
                name.Append("-seed-nspid"u8);
                name.AppendDecimal(st.Ino);
                if (CgroupInode(out ulong cgroup))
                {
                    name.Append("_cgpid"u8);
                    name.AppendDecimal(cgroup);
                }
            }
        }
        bool mntNs;
        fixed (byte* path = "/proc/self/ns/mnt\0"u8)
            mntNs = StatxAt(LibC.AT_FDCWD, path, 0, LibC.STATX_BASIC_STATS, &st) == 0;
        if (mntNs)
        {
            name.Append("-ns-"u8);
            name.AppendDecimal(st.Ino);
        }
    }

    /// <summary>The inode of our cgroup: the path on the first line of /proc/self/cgroup, under /sys/fs/cgroup or /cgroup2 (as Facebook's launcher reads it).</summary>
    private static bool CgroupInode(out ulong inode)
    {
        inode = 0;
        byte* text = stackalloc byte[4096];
        int total = ReadSmallFile("/proc/self/cgroup\0"u8, text, 4096);
        if (total is < 0 or >= 4096)
            return false;
        var all = new NativeText(text, total);
        int newline = all.IndexOf((byte)'\n');
        var firstLine = newline >= 0 ? all.Slice(0, newline) : all;
        int first = firstLine.IndexOf((byte)':');
        int second = first < 0 ? -1 : firstLine.IndexOf((byte)':', first + 1);
        if (second < 0)
            return false;
        var path = firstLine.Slice(second + 1);
        byte* buffer = stackalloc byte[PathBuilder.Capacity];
        LibC.Statx st;
        for (int attempt = 0; attempt < 2; attempt++)
        {
            var full = new PathBuilder(buffer);
            full.Append(attempt == 0 ? "/sys/fs/cgroup"u8 : "/cgroup2"u8);
            full.Append((byte)'/');
            full.Append(path);
            if (full.Fits && StatxAt(LibC.AT_FDCWD, full.CString, 0, LibC.STATX_BASIC_STATS, &st) == 0)
            {
                inode = st.Ino;
                return true;
            }
        }
        return false;
    }
}
