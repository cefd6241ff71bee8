using static Xar.Posix.LibC;
using Xar.Posix;

namespace Xar.Runtime;

/// <summary>
/// What gc did (or, on a dry run, would do) to one mount or cache entry; <see cref="XarFile"/> is the file it
/// was made from, when the launcher recorded it.
/// </summary>
public readonly record struct XarGcAction(string Kind, string Path, string Outcome, string? XarFile = null);

/// <summary>
/// Cleans up after XARs, for this user: unmounts XAR mounts of ours (fuse.xar, fuse.squashfuse_ll, fuse.squashfuse) whose lock file was last
/// touched longer ago than the idle limit, or whose XAR file is gone or now holds another UUID however
/// recent (holding the lock, as Facebook's cleaner does, and never a busy one); deletes cache entries
/// unused for longer than the age limit (never one in use: running programs hold the entry's lock
/// shared), and the temporary trees of extractions that were killed (their lock no longer held).
/// </summary>
public static class XarGarbageCollector
{
    public static IReadOnlyList<XarGcAction> Collect(TimeSpan idle, TimeSpan olderThan, bool dryRun)
    {
        var actions = new List<XarGcAction>();
        long now = DateTimeOffset.UtcNow.ToUnixTimeSeconds();
        CollectMounts(actions, now - (long)idle.TotalSeconds, dryRun);
        CollectCache(actions, now - (long)olderThan.TotalSeconds, dryRun);
        XarBlobCache.Collect(actions, now - (long)olderThan.TotalSeconds, dryRun);
        XarDigestCache.Collect(actions, now - (long)olderThan.TotalSeconds, dryRun);
        return actions;
    }

    private static void CollectMounts(List<XarGcAction> actions, long usedBefore, bool dryRun)
    {
        string userDirName = "uid-" + GetEuid();
        foreach (var mount in MountTable.Read())
        {
            if (!mount.IsXarMount)
                continue;
            string name = Path.GetFileName(mount.MountPoint);
            string? parent = Path.GetDirectoryName(mount.MountPoint);
            if (parent is null || Path.GetFileName(parent) != userDirName || XarMountLayout.TryParseDirectoryName(name) is null)
                continue;
            // The name says nothing of whose it is: another user may rename their uid-M directory, mount and all, to
            // ours, or swap a symbolic link in for a path once /proc/self/mounts was read. So the directory is opened
            // and checked (ours, no one else may write in it, not on FUSE, whose owners are what its server says),
            // and all that follows goes through that descriptor: what is in it only we (or root) put there. Any
            // other is not ours to look at, and is not reported.
            using var directory = OpenOwnDirectory(parent);
            if (directory is null)
                continue;
            string lockPath = directory.At + "/" + XarMountLayout.LockFilePrefix + name;
            string mountAt = directory.At + "/" + name;
            if (PosixPath.TryLstat(lockPath) is null)
                continue;
            XarLockFile lockFile;
            try
            {
                lockFile = XarLockFile.Open(lockPath, create: false);
            }
            catch (Exception e) when (e is XarLaunchException or FileNotFoundException)
            {
                actions.Add(new("mount", mount.MountPoint, "skipped: " + e.Message));
                continue;
            }
            using (lockFile)
            {
                if (!lockFile.TryLockExclusive())
                {
                    actions.Add(new("mount", mount.MountPoint, "in use (locked)"));
                    continue;
                }
                string? file = lockFile.RecordedXarFile();
                // A repack makes a new UUID: the mount of the old one serves nobody, however recent.
                bool stale = file is not null && !HoldsUuid(file, XarMountLayout.TryParseDirectoryName(name)!);
                if (lockFile.LastUsedSeconds > usedBefore && !stale)
                {
                    actions.Add(new("mount", mount.MountPoint, "recently used", file));
                    continue;
                }
                // The mount listed must be the one in our directory (a swapped link would have led elsewhere).
                if (FuseMount.Probe(mountAt) == FuseMountState.NotMounted)
                    continue;
                if (dryRun)
                {
                    actions.Add(new("mount", mount.MountPoint, "would unmount", file));
                    continue;
                }
                // Root unmounts through the descriptor (umount2, UMOUNT_NOFOLLOW). A user's fusermount runs in a
                // process of its own, which does not have our descriptor: it gets the path, and unmounts only a
                // mount of that user's (it checks the mount's user_id).
                string? error = FuseMount.TryUnmount(GetEuid() == 0 ? mountAt : mount.MountPoint, lazy: false);
                if (error is not null)
                {
                    actions.Add(new("mount", mount.MountPoint, "in use: " + error, file));
                    continue;
                }
                Rmdir(mountAt);
                Unlink(lockPath);
                actions.Add(new("mount", mount.MountPoint, "unmounted", file));
            }
        }
    }

    /// <summary>
    /// <paramref name="path"/> opened, when it is a directory of ours that no one else may write in and not on a FUSE
    /// file system (the launcher makes MOUNTROOT/uid-N so, mode 0755); null otherwise.
    /// </summary>
    private static OpenedDirectory? OpenOwnDirectory(string path)
    {
        var directory = OpenedDirectory.TryOpen(path, out _);
        if (directory is null)
            return null;
        try
        {
            if (PosixPath.TryStat(directory.At) is { IsDirectory: true } st && st.Uid == GetEuid() && (st.Permissions & 0x12) == 0 &&
                FuseMount.Probe(directory.At) == FuseMountState.NotMounted)
                return directory;
        }
        catch (XarLaunchException)
        {
            // statfs failed: not a directory to trust
        }
        directory.Dispose();
        return null;
    }

    /// <summary>True when <paramref name="file"/> is a XAR whose header names <paramref name="uuid"/>.</summary>
    private static bool HoldsUuid(string file, string uuid)
    {
        try
        {
            return string.Equals(XarHeader.ReadFromFile(file).Uuid, uuid, StringComparison.OrdinalIgnoreCase);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException or XarHeaderException)
        {
            return false;
        }
    }

    /// <summary>Temporary trees of extractions that were killed half-way: removed when their entry's lock is free.</summary>
    private static void CollectLeftovers(List<XarGcAction> actions, string root, string shown, bool dryRun)
    {
        IEnumerable<string> leftovers;
        try
        {
            leftovers = Directory.GetDirectories(root, ".*.xar-tmp-*");
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            return;
        }
        foreach (string leftover in leftovers)
        {
            string name = Path.GetFileName(leftover);
            string uuid = name[1..name.IndexOf(".xar-tmp-", StringComparison.Ordinal)];
            if (uuid.Length == 0 || uuid.AsSpan().ContainsAnyExcept("0123456789abcdefABCDEF"))
                continue;
            string lockPath = root + "/" + XarCache.LockFilePrefix + uuid;
            XarLockFile? lockFile = null;
            try
            {
                lockFile = XarLockFile.Open(lockPath, create: true);
                if (!lockFile.TryLockExclusive())
                    continue; // an extraction is writing it right now
                if (dryRun)
                {
                    actions.Add(new("cache", shown + "/" + name, "would delete"));
                    continue;
                }
                TreeRemover.Delete(leftover);
                actions.Add(new("cache", shown + "/" + name, "deleted"));
            }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException or XarLaunchException)
            {
                actions.Add(new("cache", shown + "/" + name, "cannot delete: " + e.Message));
            }
            finally
            {
                lockFile?.Dispose();
            }
        }
    }

    private static void CollectCache(List<XarGcAction> actions, long usedBefore, bool dryRun)
    {
        foreach (var root in XarCache.Roots())
        {
            // Through a descriptor: the root's name may be any bytes; what gc reads or removes below it has ASCII names.
            using var opened = OpenedDirectory.TryOpen(root.Path, out int errno);
            if (opened is null)
            {
                if (errno is not (ENOENT or ENOTDIR))
                    actions.Add(new("cache", root.Path, "cannot open: " + Describe(errno)));
                continue;
            }
            CollectCacheRoot(actions, opened.At, root.Path, usedBefore, dryRun);
        }
    }

    /// <summary>One cache root, reached as <paramref name="at"/>; the actions name its entries under <paramref name="shown"/>.</summary>
    private static void CollectCacheRoot(List<XarGcAction> actions, string at, string shown, long usedBefore, bool dryRun)
    {
        CollectLeftovers(actions, at, shown, dryRun);
        IEnumerable<string> lockFiles;
        try
        {
            lockFiles = Directory.GetFiles(at, XarCache.LockFilePrefix + "*");
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            return;
        }
        foreach (string lockPath in lockFiles)
        {
            string uuid = Path.GetFileName(lockPath)[XarCache.LockFilePrefix.Length..];
            if (uuid.Length == 0 || uuid.AsSpan().ContainsAnyExcept("0123456789abcdefABCDEF"))
                continue;
            string entry = shown + "/" + uuid;
            string entryAt = at + "/" + uuid;
            XarLockFile lockFile;
            try
            {
                lockFile = XarLockFile.Open(lockPath, create: false);
            }
            catch (Exception e) when (e is XarLaunchException or FileNotFoundException)
            {
                continue;
            }
            using (lockFile)
            {
                if (!lockFile.TryLockExclusive())
                {
                    actions.Add(new("cache", entry, "in use"));
                    continue;
                }
                string? file = lockFile.RecordedXarFile();
                if (lockFile.LastUsedSeconds > usedBefore)
                {
                    actions.Add(new("cache", entry, "recently used", file));
                    continue;
                }
                if (dryRun)
                {
                    actions.Add(new("cache", entry, "would delete", file));
                    continue;
                }
                // Renamed first so no launcher ever sees a half-deleted entry as complete.
                if (PosixPath.TryLstat(entryAt) is { IsDirectory: true })
                {
                    string doomed = at + "/." + uuid + ".xar-tmp-gc" + Guid.NewGuid().ToString("N");
                    if (Rename(entryAt, doomed) != 0)
                    {
                        actions.Add(new("cache", entry, "cannot delete: " + Describe(LastError)));
                        continue;
                    }
                    try
                    {
                        TreeRemover.Delete(doomed);
                    }
                    catch (Exception e) when (e is IOException or UnauthorizedAccessException or XarLaunchException)
                    {
                        // Report it and go on with the other entries; the renamed remains are a leftover,
                        // never mistaken for a complete entry.
                        Unlink(lockPath);
                        actions.Add(new("cache", entry, "cannot delete: " + e.Message));
                        continue;
                    }
                }
                Unlink(lockPath);
                actions.Add(new("cache", entry, "deleted", file));
            }
        }
    }

    /// <summary>Parses durations like 90s, 15m, 2h, 30d, 1w (a bare number is seconds).</summary>
    public static bool TryParseDuration(string text, out TimeSpan duration)
    {
        duration = default;
        text = text.Trim();
        if (text.Length == 0)
            return false;
        char unit = text[^1];
        string number = char.IsAsciiDigit(unit) ? text : text[..^1];
        if (!double.TryParse(number, System.Globalization.NumberStyles.AllowDecimalPoint, System.Globalization.CultureInfo.InvariantCulture, out double value) || value < 0)
            return false;
        double seconds = unit switch
        {
            's' => value,
            'm' => value * 60,
            'h' => value * 3600,
            'd' => value * 86400,
            'w' => value * 7 * 86400,
            _ when char.IsAsciiDigit(unit) => value,
            _ => double.NaN,
        };
        if (double.IsNaN(seconds) || seconds > TimeSpan.MaxValue.TotalSeconds / 2)
            return false;
        duration = TimeSpan.FromSeconds(seconds);
        return true;
    }
}
