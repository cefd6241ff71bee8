using Xar.Posix;
using static Xar.Posix.RawLibC;

namespace Xar.Launcher.PreRuntime;

/// <summary>The extraction cache: XarCache.Roots and TryOpenExisting, Launch.RunExtracted, for an entry that is there.</summary>
internal static unsafe partial class FastStart
{
    private static void TryCached(int argc, byte** argv, ProcessEnvironment env, in HeaderScan header)
    {
        const int MaxRoots = 4;
        byte* buffers = stackalloc byte[MaxRoots * PathBuilder.Capacity];
        bool* shared = stackalloc bool[MaxRoots];
        int* lengths = stackalloc int[MaxRoots];
        int count = 0;
        byte* scratch = stackalloc byte[PathBuilder.Capacity];
        uint euid = GetEuid();
        var xdg = env.Get("XDG_CACHE_HOME"u8);
        var home = env.Get("HOME"u8);
        var tmp = env.Get("TMPDIR"u8);

        for (int candidate = 0; candidate < MaxRoots; candidate++)
        {
            var path = new PathBuilder(scratch);
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
            path.TrimTrailingSlashes();
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
        LibC.Statx st;
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
            int lockFd = OpenLock(lockPath.CString, LibC.LOCK_SH);
            if (lockFd < 0)
                return;
            if (!TryStat(entry.CString, follow: false, &st, out exists) || !exists || !st.IsDirectory)
            {
                Close(lockFd); // gc took it while we waited: Main extracts again
                return;
            }
            // The program inherits the shared lock: gc never deletes an entry in use.
            if (Futimens(lockFd, null) == 0 && StatxAt(LibC.AT_FDCWD, script.CString, 0, LibC.STATX_BASIC_STATS, &st) == 0)
            {
                int inherited = MoveAboveStandardDescriptors(lockFd);
                int flags = inherited < 0 ? -1 : Fcntl(inherited, LibC.F_GETFD, 0);
                if (flags >= 0 && Fcntl(inherited, LibC.F_SETFD, flags & ~LibC.FD_CLOEXEC) == 0)
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
        LibC.Statx st;
        if (!TryStat(root, follow: !isShared, &st, out bool exists) || !exists)
            return false;
        if (isShared)
            return IsOwned(st, directory: true, CacheDirectoryMode);
        return st.IsDirectory && st.Uid == GetEuid() && (st.Permissions & 0x12) == 0 && Access(root, LibC.W_OK) == 0;
    }
}
