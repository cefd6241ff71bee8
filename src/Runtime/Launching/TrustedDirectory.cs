using Xar.Posix;
using static Xar.Posix.RawLibC;

namespace Xar.Runtime.Launching;

/// <summary>
/// Directories the launcher may work in, opened as descriptors (O_PATH) and checked: the checks hold for
/// what is used next, because everything after them goes through the descriptor or through a path whose
/// every directory only root or we can change. Allocation-free, for the launch core.
/// </summary>
public static unsafe class TrustedDirectory
{
    public const uint StickyBit = 0x200;

    /// <summary>
    /// Opens <paramref name="path"/> (following links when <paramref name="followLast"/>, as for a root named by
    /// the user) and checks that no directory above it can be changed by another user: each is owned by root or
    /// us, and not writable by group or others unless sticky. With <paramref name="checkLast"/> the directory
    /// itself too; otherwise its own rules are the caller's (on the returned descriptor). <paramref name="canonical"/>
    /// (PathBuilder.Capacity bytes) receives the path that was walked, free of links: paths built on it for
    /// helpers and exec name what was checked, whatever a link on the way is changed to. -1 with the outcome filled.
    /// </summary>
    public static int Open(byte* path, bool followLast, bool checkLast, LaunchSubject subject, byte* canonical, ref LaunchOutcome outcome)
    {
        int fd = OpenAt(LibC.AT_FDCWD, path, LibC.O_PATH | LibC.O_DIRECTORY | LibC.O_CLOEXEC | (followLast ? 0 : LibC.O_NOFOLLOW), 0);
        if (fd < 0)
        {
            int errno = Errno;
            LaunchFailure.Set(ref outcome, subject, errno is LibC.ENOENT ? LaunchProblem.Missing
                : errno is LibC.ENOTDIR or LibC.ELOOP ? LaunchProblem.NotADirectory : LaunchProblem.CannotOpen, errno, path);
            return -1;
        }
        // Where it really is: the kernel's name for the open directory, walked again from "/" without following anything.
        if (!TryProcFdPath(fd, canonical))
        {
            Close(fd);
            LaunchFailure.Set(ref outcome, subject, LaunchProblem.CannotOpen, LibC.ENOENT, path);
            return -1;
        }
        LibC.Statx opened, st, above = default;
        int current;
        fixed (byte* slash = "/\0"u8)
            current = OpenAt(LibC.AT_FDCWD, slash, LibC.O_PATH | LibC.O_DIRECTORY | LibC.O_CLOEXEC, 0);
        int length = NativeText.FromCString(canonical).Length;
        int start = 1;
        while (current >= 0)
        {
            if (!Stat(current, &st) || ((start < length || checkLast) && !IsTrusted(st)))
            {
                canonical[start > 1 ? start - 1 : 1] = 0;
                Close(current);
                Close(fd);
                LaunchFailure.Set(ref outcome, subject, LaunchProblem.UntrustedParent, 0, path);
                outcome.ObservedUid = st.Uid;
                outcome.ObservedMode = st.Permissions;
                LaunchFailure.Copy(canonical, outcome.DetailPointer());
                return -1;
            }
            // A FUSE mount's owner and modes are whatever its server answers: one another user mounted (on a directory
            // of theirs) could claim root's or ours. So no directory on the way, the last included, may be one.
            if (start > 1 && IsFuseMountPoint(current, st, above))
            {
                canonical[start - 1] = 0;
                Close(current);
                Close(fd);
                LaunchFailure.Set(ref outcome, subject, LaunchProblem.ForeignMount, 0, path);
                LaunchFailure.Copy(canonical, outcome.DetailPointer());
                return -1;
            }
            above = st;
            if (start >= length)
                break;
            int end = start;
            while (end < length && canonical[end] != '/')
                end++;
            canonical[end] = 0;
            int next = OpenAt(current, canonical + start, LibC.O_PATH | LibC.O_DIRECTORY | LibC.O_NOFOLLOW | LibC.O_CLOEXEC, 0);
            if (end < length)
                canonical[end] = (byte)'/';
            Close(current);
            current = next;
            start = end + 1;
        }
        if (current < 0 || !Stat(fd, &opened) || !Stat(current, &st) || opened.Ino != st.Ino || opened.DevMajor != st.DevMajor || opened.DevMinor != st.DevMinor)
        {
            // Moved while we walked: someone is changing the tree under us.
            if (current >= 0)
                Close(current);
            Close(fd);
            LaunchFailure.Set(ref outcome, subject, LaunchProblem.UntrustedParent, 0, path);
            LaunchFailure.Copy(canonical, outcome.DetailPointer());
            return -1;
        }
        Close(fd);
        return current;
    }

    /// <summary>
    /// True when <paramref name="fd"/> (statx <paramref name="st"/>) is the root of a FUSE file system mounted on a
    /// directory of <paramref name="above"/>'s: another device, then fstatfs (so a plain walk costs no extra call).
    /// </summary>
    public static bool IsFuseMountPoint(int fd, in LibC.Statx st, in LibC.Statx above)
    {
        if (st.IsOnDeviceOf(above))
            return false;
        long* fs = stackalloc long[32];
        return FStatFs(fd, fs) == 0 && fs[0] == LibC.FUSE_SUPER_MAGIC;
    }

    /// <summary>
    /// For a directory the launcher made in <paramref name="parentFd"/> (a user or cache directory): true when it is on
    /// its parent's file system. Another device means something is mounted over it, and the owner and mode a FUSE
    /// server (another user's, mounted there before the launcher made it) reports cannot be believed. False with the outcome filled.
    /// </summary>
    public static bool CheckNotMountedOver(int parentFd, in LibC.Statx st, LaunchSubject subject, byte* path, ref LaunchOutcome outcome)
    {
        LibC.Statx parent;
        if (Stat(parentFd, &parent) && parent.IsOnDeviceOf(st))
            return true;
        LaunchFailure.Set(ref outcome, subject, LaunchProblem.MountedOver, 0, path);
        return false;
    }

    /// <summary>Owned by root or us, and writable by nobody else unless sticky (then others cannot rename what is ours).</summary>
    public static bool IsTrusted(in LibC.Statx st) =>
        st.IsDirectory && (st.Uid == 0 || st.Uid == GetEuid()) && ((st.Permissions & 0x12) == 0 || (st.Permissions & StickyBit) != 0);

    public static bool Stat(int fd, LibC.Statx* st)
    {
        fixed (byte* empty = "\0"u8)
            return StatxAt(fd, empty, LibC.AT_EMPTY_PATH, LibC.STATX_BASIC_STATS, st) == 0;
    }

    /// <summary>statx of NAME in a directory, without following a link; false on errors, with <paramref name="exists"/> false for ENOENT.</summary>
    public static bool StatAt(int dirFd, byte* name, LibC.Statx* st, out bool exists)
    {
        exists = StatxAt(dirFd, name, LibC.AT_SYMLINK_NOFOLLOW, LibC.STATX_BASIC_STATS, st) == 0;
        return exists || Errno is LibC.ENOENT or LibC.ENOTDIR;
    }

    /// <summary>The path the kernel has for descriptor <paramref name="fd"/> (readlink of /proc/self/fd/N).</summary>
    public static bool TryProcFdPath(int fd, byte* buffer)
    {
        byte* link = stackalloc byte[64];
        var builder = new PathBuilder(link, 64);
        builder.Append("/proc/self/fd/"u8);
        builder.AppendDecimal((ulong)fd);
        nint n = ReadLink(link, buffer, PathBuilder.Capacity - 1);
        if (n <= 0 || n >= PathBuilder.Capacity - 1 || buffer[0] != '/')
            return false;
        buffer[n] = 0;
        return true;
    }

    /// <summary>
    /// The owner and mode rules for what the launcher creates: the right type, our user, one of our groups,
    /// exactly <paramref name="mode"/>. False with the outcome filled otherwise.
    /// </summary>
    public static bool CheckOwned(in LibC.Statx st, bool directory, uint mode, LaunchSubject subject, byte* path, ref LaunchOutcome outcome)
    {
        LaunchProblem problem = OwnedProblem(st.Mode, st.Uid, st.Gid, directory, mode);
        if (problem == LaunchProblem.None)
            return true;
        LaunchFailure.Set(ref outcome, subject, problem, 0, path);
        outcome.ObservedUid = st.Uid;
        outcome.ObservedGid = st.Gid;
        outcome.ObservedMode = st.Mode;
        outcome.ExpectedMode = mode;
        return false;
    }

    /// <summary>
    /// The rule of <see cref="CheckOwned"/> on its own (<see cref="PosixPath.CheckOwned"/> applies it too): which part
    /// fails for a file of <paramref name="fileMode"/> (type and permissions), <paramref name="uid"/> and <paramref name="gid"/>, or None.
    /// </summary>
    public static LaunchProblem OwnedProblem(uint fileMode, uint uid, uint gid, bool directory, uint mode)
    {
        uint type = fileMode & LibC.S_IFMT;
        if (directory ? type != LibC.S_IFDIR : type != LibC.S_IFREG)
            return directory ? LaunchProblem.NotADirectory : LaunchProblem.NotARegularFile;
        if (uid != GetEuid())
            return LaunchProblem.WrongOwner;
        if (!IsOurGroup(gid))
            return LaunchProblem.WrongGroup;
        if ((fileMode & 0xFFF) != mode)
            return LaunchProblem.WrongMode;
        return LaunchProblem.None;
    }

    public static bool IsOurGroup(uint gid)
    {
        if (gid == GetEgid())
            return true;
        int count = GetGroups(0, null); // how many: up to NGROUPS_MAX (65536)
        if (count <= 0)
            return false;
        uint* groups = stackalloc uint[Math.Min(count, 65536)];
        count = GetGroups(Math.Min(count, 65536), groups);
        for (int i = 0; i < count; i++)
            if (groups[i] == gid)
                return true;
        return false;
    }
}

/// <summary>Filling a <see cref="LaunchOutcome"/> for a failure.</summary>
public static unsafe class LaunchFailure
{
    public static void Set(ref LaunchOutcome outcome, LaunchSubject subject, LaunchProblem problem, int errno, byte* path)
    {
        outcome.Status = LaunchStatus.Failed;
        outcome.Subject = subject;
        outcome.Problem = problem;
        outcome.Errno = errno;
        fixed (byte* target = outcome.SubjectPath)
            Copy(path, target);
    }

    /// <summary>A NUL-terminated copy, cut at the buffer's size.</summary>
    public static void Copy(byte* source, byte* target)
    {
        int i = 0;
        if (source != null)
            for (; i < LaunchOutcome.PathCapacity - 1 && source[i] != 0; i++)
                target[i] = source[i];
        target[i] = 0;
    }

    public static void Copy(NativeText source, byte* target)
    {
        int n = Math.Min(source.Length, LaunchOutcome.PathCapacity - 1);
        for (int i = 0; i < n; i++)
            target[i] = source[i];
        target[n] = 0;
    }

    public static byte* DetailPointer(ref this LaunchOutcome outcome)
    {
        fixed (byte* p = outcome.Detail)
            return p; // the outcome lives on the caller's stack or in pinned memory for the whole launch
    }

    public static byte* SubjectPointer(ref this LaunchOutcome outcome)
    {
        fixed (byte* p = outcome.SubjectPath)
            return p;
    }

    public static byte* DirectoryPointer(ref this LaunchOutcome outcome)
    {
        fixed (byte* p = outcome.Directory)
            return p;
    }
}
