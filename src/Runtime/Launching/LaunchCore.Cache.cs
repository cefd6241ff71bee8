using Xar.Posix;
using static Xar.Posix.RawLibC;

namespace Xar.Runtime.Launching;

/// <summary>
/// The extraction cache, for where FUSE cannot serve: <c>ROOT/UUID</c>, extracted once under <c>ROOT/lockfile.UUID</c>.
/// ROOT is the first usable of $XAR_CACHE_DIR, <c>${XDG_CACHE_HOME:-~/.cache}/xar</c>, <c>${TMPDIR:-/tmp}/xar-EUID</c> and
/// <c>/var/tmp/xar-EUID</c>: the cache named by the environment is the cache, the others only fallbacks for a
/// noexec or unusable one. Entries are looked for only in the root that extraction would use.
/// </summary>
public static unsafe partial class LaunchCore
{
    public const int CacheCandidates = 4;

    public enum CacheRootKind : byte { Explicit, User, Shared }

    private static void RunCached(ref Launch launch, NativeText uuid, FuseUnavailability reason, ref LaunchOutcome outcome)
    {
        outcome.FuseReason = reason;
        uint savedUmask = Umask(CreationUmask);
        byte* rootPath = stackalloc byte[PathBuilder.Capacity];
        int rootFd = SelectCacheRoot(launch.Env, create: true, rootPath, ref outcome);
        if (rootFd >= 0)
        {
            UseCacheEntry(ref launch, uuid, rootFd, rootPath, savedUmask, ref outcome);
            if (outcome.Status is not (LaunchStatus.NeedsExtraction or LaunchStatus.NeedsImageCheck))
                Close(rootFd); // (NeedsVerification: the next run opens it again)
        }
        Umask(savedUmask);
    }

    private static void UseCacheEntry(ref Launch launch, NativeText uuid, int rootFd, byte* rootPath, uint savedUmask, ref LaunchOutcome outcome)
    {
        byte* entryName = stackalloc byte[80];
        var entry = new PathBuilder(entryName, 80);
        entry.Append(uuid);
        byte* lockName = stackalloc byte[96];
        var lockFile = new PathBuilder(lockName, 96);
        lockFile.Append("lockfile."u8);
        lockFile.Append(uuid);
        byte* entryPathBuffer = stackalloc byte[PathBuilder.Capacity];
        var entryPath = new PathBuilder(entryPathBuffer);
        entryPath.Append(NativeText.FromCString(rootPath));
        entryPath.Append((byte)'/');
        entryPath.Append(uuid);
        byte* lockPathBuffer = stackalloc byte[PathBuilder.Capacity];
        var lockPath = new PathBuilder(lockPathBuffer);
        lockPath.Append(NativeText.FromCString(rootPath));
        lockPath.Append((byte)'/');
        lockPath.Append(lockFile.Text);
        byte* scriptBuffer = stackalloc byte[PathBuilder.Capacity];
        var script = new PathBuilder(scriptBuffer);
        script.Append(entryPath.Text);
        script.Append((byte)'/');
        script.Append(launch.Target);
        if (!entryPath.Fits || !lockPath.Fits || !script.Fits)
        {
            LaunchFailure.Set(ref outcome, LaunchSubject.CacheEntry, LaunchProblem.TooLong, LibC.ENAMETOOLONG, rootPath);
            return;
        }

        LibC.Statx st;
        if (!TrustedDirectory.StatAt(rootFd, entry.CString, &st, out bool exists))
        {
            LaunchFailure.Set(ref outcome, LaunchSubject.CacheEntry, LaunchProblem.CannotStat, Errno, entryPath.CString);
            return;
        }
        if (!exists)
        {
            NeedsExtraction(launch, rootFd, rootPath, ref outcome);
            return;
        }
        if (!st.IsDirectory || st.Uid != GetEuid())
        {
            LaunchFailure.Set(ref outcome, LaunchSubject.CacheEntry, LaunchProblem.WrongOwner, 0, entryPath.CString);
            return;
        }
        // Shared: others may run it too; gc, which needs it exclusively, never deletes an entry in use.
        int lockFd = OpenLock(rootFd, lockFile.CString, lockPath.CString, LibC.LOCK_SH, create: true, ref outcome);
        if (lockFd < 0)
            return;
        if (!TrustedDirectory.StatAt(rootFd, entry.CString, &st, out exists) || !exists)
        {
            Close(lockFd); // gc took it while we waited for the lock
            NeedsExtraction(launch, rootFd, rootPath, ref outcome);
            return;
        }
        // Under a trust policy a listed file was checked (and the entry holds its image); another is checked first,
        // then its image compared with the entry's as below, then listed.
        bool trusted = launch.UnderPolicy && TrustRecord.Lists(lockFd, launch.TrustLine, launch.TrustLength);
        if (launch.UnderPolicy && !trusted && !launch.VerifiedNow)
        {
            Close(lockFd);
            outcome.Status = LaunchStatus.NeedsVerification;
            return;
        }
        var recorded = trusted ? CacheEntryRecord.State.Listed : CacheEntryRecord.Check(lockFd, outcome.XarFd);
        if (launch.UnderPolicy && recorded == CacheEntryRecord.State.NoRecord)
        {
            Close(lockFd);
            LaunchFailure.Set(ref outcome, LaunchSubject.CacheEntry, LaunchProblem.NoImageRecord, 0, entryPath.CString);
            return;
        }
        if (recorded == CacheEntryRecord.State.Unlisted)
        {
            // Another file than those it was made from or checked against: the managed launcher compares the images.
            Close(lockFd);
            outcome.Status = LaunchStatus.NeedsImageCheck;
            outcome.CacheRootFd = rootFd;
            LaunchFailure.Copy(entryPath.CString, outcome.DirectoryPointer());
            return;
        }
        if (launch.UnderPolicy && !trusted)
            TrustRecord.Append(lockFd, launch.TrustLine, launch.TrustLength);
        Futimens(lockFd, null); // "last used", for gc
        if (launch.Mode == LaunchMode.Mount)
        {
            outcome.Status = LaunchStatus.Cached;
            LaunchFailure.Copy(entryPath.CString, outcome.DirectoryPointer());
            Close(lockFd);
            return;
        }
        int targetFd = OpenTarget(script.CString, launch.Target, ref outcome);
        if (targetFd >= 0)
        {
            // The program inherits the shared lock: the entry stays in use for as long as it runs.
            int inherited = Fcntl(lockFd, LibC.F_DUPFD, 3);
            if (inherited >= 0)
            {
                Exec(launch, script.CString, savedUmask, newMount: false, ref outcome);
                Close(inherited);
            }
            else
            {
                LaunchFailure.Set(ref outcome, LaunchSubject.LockFile, LaunchProblem.CannotKeepOpen, Errno, lockPath.CString);
            }
            Close(targetFd);
        }
        Close(lockFd);
    }

    private static void NeedsExtraction(in Launch launch, int rootFd, byte* rootPath, ref LaunchOutcome outcome)
    {
        if (launch.UnderPolicy && !launch.VerifiedNow)
        {
            outcome.Status = LaunchStatus.NeedsVerification; // nothing is extracted from a file not checked
            return;
        }
        outcome.Status = LaunchStatus.NeedsExtraction;
        outcome.CacheRootFd = rootFd;
        LaunchFailure.Copy(rootPath, outcome.DirectoryPointer());
    }

    /// <summary>Locate mode under XAR_EXTRACT=1: the entry in the first cache root named, nothing created.</summary>
    private static void LocateCacheEntry(ProcessEnvironment env, NativeText uuid, ref LaunchOutcome outcome)
    {
        byte* buffer = stackalloc byte[PathBuilder.Capacity];
        var path = new PathBuilder(buffer);
        for (int candidate = 0; candidate < CacheCandidates; candidate++)
        {
            path.Truncate(0);
            CacheRootCandidate(env, candidate, ref path, out _);
            if (path.Length > 0 && buffer[0] == '/' && path.Fits)
                break;
        }
        path.TrimTrailingSlashes();
        path.Append((byte)'/');
        path.Append(uuid);
        LaunchFailure.Copy(path.CString, outcome.DirectoryPointer());
        outcome.Status = LaunchStatus.Located;
    }

    /// <summary>Candidate <paramref name="index"/> of the cache roots, in the order they are tried (empty when unset).</summary>
    public static void CacheRootCandidate(ProcessEnvironment env, int index, ref PathBuilder path, out CacheRootKind kind)
    {
        switch (index)
        {
            case 0:
                kind = CacheRootKind.Explicit;
                path.Append(env.Get("XAR_CACHE_DIR"u8));
                break;
            case 1:
                kind = CacheRootKind.User;
                var xdg = env.Get("XDG_CACHE_HOME"u8);
                var home = env.Get("HOME"u8);
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
                kind = CacheRootKind.Shared;
                var tmp = env.Get("TMPDIR"u8);
                path.Append(tmp.IsNull || tmp.IsEmpty ? "/tmp"u8 : default);
                path.Append(tmp);
                path.TrimTrailingSlashes();
                path.Append("/xar-"u8);
                path.AppendDecimal(GetEuid());
                break;
            default:
                kind = CacheRootKind.Shared;
                path.Append("/var/tmp/xar-"u8);
                path.AppendDecimal(GetEuid());
                break;
        }
    }

    /// <summary>
    /// The cache root to use, opened (O_PATH) and checked, its path (free of links) in <paramref name="rootPath"/>; -1 with the
    /// outcome filled when the named one is unusable or none is. A user's root may be a link and is created with
    /// its parents; a shared one (in a world-writable place) must be ours alone, 0700, not a link.
    /// </summary>
    private static int SelectCacheRoot(ProcessEnvironment env, bool create, byte* rootPath, ref LaunchOutcome outcome)
    {
        byte* seen = stackalloc byte[CacheCandidates * PathBuilder.Capacity];
        int seenCount = 0;
        byte* skippedBuffer = stackalloc byte[PathBuilder.Capacity];
        var skipped = new PathBuilder(skippedBuffer); // into the outcome only when no root is usable: its detail may hold why FUSE did not serve
        for (int candidate = 0; candidate < CacheCandidates; candidate++)
        {
            var path = new PathBuilder(seen + seenCount * PathBuilder.Capacity);
            CacheRootCandidate(env, candidate, ref path, out var kind);
            if (path.Length == 0 || path.CString[0] != '/')
                continue;
            if (!path.Fits)
            {
                LaunchFailure.Set(ref outcome, LaunchSubject.CacheRoot, LaunchProblem.TooLong, LibC.ENAMETOOLONG, null);
                return -1;
            }
            path.TrimTrailingSlashes();
            bool duplicate = false;
            for (int i = 0; i < seenCount; i++)
                duplicate |= NativeText.FromCString(seen + i * PathBuilder.Capacity).SequenceEqual(path.Text);
            if (duplicate)
                continue;
            seenCount++;

            var attempt = outcome; // a copy: a fallback's failure must not stick
            int fd = kind == CacheRootKind.Shared
                ? OpenSharedCacheRoot(path.CString, rootPath, ref attempt)
                : OpenUserCacheRoot(path.CString, create, rootPath, ref attempt);
            if (fd >= 0 && IsNoExec(fd))
            {
                Close(fd);
                AppendSkipped(ref skipped, path.CString, " is on a noexec file system"u8);
                continue;
            }
            if (fd >= 0)
                return fd; // rootPath holds where it really is
            if (kind == CacheRootKind.Explicit)
            {
                outcome = attempt;
                return -1;
            }
            AppendSkipped(ref skipped, path.CString, attempt.Problem switch
            {
                LaunchProblem.UntrustedParent => " is in a directory another user can change"u8,
                LaunchProblem.WrongOwner => " is not owned by us"u8,
                LaunchProblem.WrongMode or LaunchProblem.WritableByOthers => " has the wrong mode"u8,
                LaunchProblem.NotADirectory => " is not a directory"u8,
                LaunchProblem.ForeignMount => " is or is in a FUSE mount (its owner cannot be checked)"u8,
                LaunchProblem.MountedOver => " has a file system mounted on it"u8,
                _ => " cannot be used"u8,
            });
        }
        LaunchFailure.Set(ref outcome, LaunchSubject.CacheRoot, LaunchProblem.NoneUsable, 0, null);
        LaunchFailure.Copy(skipped.CString, outcome.DetailPointer());
        return -1;
    }

    private static void AppendSkipped(ref PathBuilder skipped, byte* path, ReadOnlySpan<byte> why)
    {
        if (skipped.Length > 0)
            skipped.Append("; "u8);
        skipped.Append(NativeText.FromCString(path));
        skipped.Append(why);
    }

    private static bool IsNoExec(int fd)
    {
        ulong* buffer = stackalloc ulong[32];
        return FStatVfs(fd, buffer) == 0 && (buffer[9] & LibC.ST_NOEXEC) != 0;
    }

    /// <summary>The user's own cache: created with its parents (0700) when missing; a directory of ours, writable by us alone.</summary>
    private static int OpenUserCacheRoot(byte* path, bool create, byte* canonical, ref LaunchOutcome outcome)
    {
        LibC.Statx st;
        if (create && StatxAt(LibC.AT_FDCWD, path, 0, LibC.STATX_BASIC_STATS, &st) != 0 && Errno == LibC.ENOENT)
            CreateWithParents(path);
        int fd = TrustedDirectory.Open(path, followLast: true, checkLast: false, LaunchSubject.CacheRoot, canonical, ref outcome);
        if (fd < 0)
            return -1;
        TrustedDirectory.Stat(fd, &st);
        var problem = st.Uid != GetEuid() ? LaunchProblem.WrongOwner
            : (st.Permissions & 0x12) != 0 ? LaunchProblem.WritableByOthers
            : Access(path, LibC.W_OK) != 0 ? LaunchProblem.NotWritable : LaunchProblem.None;
        if (problem == LaunchProblem.None)
            return fd;
        LaunchFailure.Set(ref outcome, LaunchSubject.CacheRoot, problem, problem == LaunchProblem.NotWritable ? Errno : 0, path);
        outcome.ObservedUid = st.Uid;
        outcome.ObservedMode = st.Mode;
        Close(fd);
        return -1;
    }

    /// <summary><c>DIR/xar-EUID</c> in a shared directory: created 0700 unless there, then ours alone, 0700, not a link.</summary>
    private static int OpenSharedCacheRoot(byte* path, byte* canonical, ref LaunchOutcome outcome)
    {
        int slash = NativeText.FromCString(path).Length - 1;
        while (slash > 0 && path[slash] != '/')
            slash--;
        byte* parent = stackalloc byte[PathBuilder.Capacity];
        var parentPath = new PathBuilder(parent);
        parentPath.Append(slash == 0 ? new NativeText(path, 1) : new NativeText(path, slash));
        int parentFd = TrustedDirectory.Open(parent, followLast: true, checkLast: true, LaunchSubject.CacheRoot, canonical, ref outcome);
        if (parentFd < 0)
            return -1;
        byte* name = path + slash + 1;
        var where = new PathBuilder(canonical + NativeText.FromCString(canonical).Length, PathBuilder.Capacity - NativeText.FromCString(canonical).Length);
        if (!(canonical[0] == '/' && canonical[1] == 0))
            where.Append((byte)'/');
        where.Append(NativeText.FromCString(name));
        if (MkdirAt(parentFd, name, (int)PrivateDirectoryMode) == 0)
            FchmodAt(parentFd, name, (int)PrivateDirectoryMode, 0);
        int fd = OpenAt(parentFd, name, LibC.O_PATH | LibC.O_NOFOLLOW | LibC.O_CLOEXEC, 0);
        LibC.Statx st;
        if (fd < 0)
        {
            LaunchFailure.Set(ref outcome, LaunchSubject.CacheRoot, LaunchProblem.CannotOpen, Errno, path);
            Close(parentFd);
            return -1;
        }
        bool usable = TrustedDirectory.Stat(fd, &st) && TrustedDirectory.CheckOwned(st, directory: true, PrivateDirectoryMode, LaunchSubject.CacheRoot, path, ref outcome)
            && TrustedDirectory.CheckNotMountedOver(parentFd, st, LaunchSubject.CacheRoot, path, ref outcome);
        Close(parentFd);
        if (!usable)
        {
            Close(fd);
            return -1;
        }
        return fd;
    }

    /// <summary>mkdir -p, each new directory 0700 (errors show when the root is then opened).</summary>
    private static void CreateWithParents(byte* path)
    {
        int length = NativeText.FromCString(path).Length;
        for (int i = 1; i <= length; i++)
        {
            if (i < length && path[i] != '/')
                continue;
            byte saved = path[i];
            path[i] = 0;
            Mkdir(path, (int)PrivateDirectoryMode);
            path[i] = saved;
        }
    }
}
