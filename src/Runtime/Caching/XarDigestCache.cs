using System.Globalization;
using Microsoft.Win32.SafeHandles;
using Xar.Posix;

namespace Xar.Runtime;

/// <summary>
/// The SHA-256 of files pushed (`xar push`), so pushing an unchanged file again hashes nothing:
/// <c>ROOT/digests/DEVMAJOR-DEVMINOR-INODE</c> (in the cache directory of <see cref="XarBlobCache"/>) holds
/// "SIZE MTIME_NS CTIME_NS sha256:HEX". A record counts only while the file's size, mtime and ctime (nanoseconds)
/// are those recorded: any write changes the ctime, which no user can set back. Two cases would still slip by, and
/// are kept out: a write in the same clock tick as the one before our read (the timestamps would not move), so a
/// file changed less than <see cref="Settle"/> before the hash began is not recorded; and a file that changed while
/// it was hashed (its status before and after differ). Not caught: writes through a shared mapping to pages already
/// dirty (the kernel stamps the first write after a writeback only), as for make, rsync and git. A record's mtime is
/// its last use; gc deletes those unused for <c>--older-than</c>.
/// </summary>
public static class XarDigestCache
{
    public const string Directory = "digests";

    /// <summary>A file whose ctime is this close to the start of its hash is not recorded (timestamps are coarse: a tick, 2 s on FAT).</summary>
    public static readonly TimeSpan Settle = TimeSpan.FromSeconds(2);

    /// <summary>What identifies a file's content here: where it is and its size and times.</summary>
    public readonly record struct Identity(uint DevMajor, uint DevMinor, ulong Inode, ulong Size, long ModifiedNs, long ChangedNs)
    {
        public string Key => $"{DevMajor}-{DevMinor}-{Inode}";

        public string Text => string.Create(CultureInfo.InvariantCulture, $"{Size} {ModifiedNs} {ChangedNs}");
    }

    /// <summary>The identity of an open regular file, or null (not a regular file, or statx failed).</summary>
    public static Identity? Of(SafeFileHandle file)
    {
        if (LibC.FStatx((int)file.DangerousGetHandle(), out var st) != 0 || !st.IsRegularFile)
            return null;
        return new Identity(st.DevMajor, st.DevMinor, st.Ino, st.Size, Nanoseconds(st.Mtime), Nanoseconds(st.Ctime));
    }

    private static long Nanoseconds(LibC.StatxTimestamp t) => t.Seconds * 1_000_000_000 + t.Nanoseconds;

    /// <summary>The recorded digest of the file, or null. Never fails: the cache only saves time.</summary>
    public static string? Lookup(Identity identity)
    {
        try
        {
            using var records = XarBlobCache.OpenHeld(Directory);
            string path = records.At + "/" + identity.Key;
            if (PosixPath.TryLstat(path) is not { IsRegularFile: true } st || st.Uid != PosixPath.EffectiveUserId)
                return null;
            string[] fields = File.ReadAllText(path).Trim().Split(' ');
            if (fields.Length != 4 || string.Join(' ', fields[..3]) != identity.Text || !IsDigest(fields[3]))
                return null;
            File.SetLastWriteTimeUtc(path, DateTime.UtcNow); // its last use, for gc
            return fields[3];
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException or XarLaunchException)
        {
            return null;
        }
    }

    /// <summary>
    /// Records <paramref name="digest"/> for the file, hashed from <paramref name="hashStarted"/> on while it was
    /// <paramref name="before"/>, when it is still that and had settled by then. Never fails.
    /// </summary>
    public static void Record(SafeFileHandle file, Identity before, DateTime hashStarted, string digest)
    {
        long startedNs = (hashStarted.ToUniversalTime() - DateTime.UnixEpoch).Ticks * 100;
        if (Of(file) != before || before.ChangedNs > startedNs - Settle.Ticks * 100 || before.ModifiedNs > startedNs - Settle.Ticks * 100)
            return;
        try
        {
            using var records = XarBlobCache.OpenHeld(Directory);
            string dir = records.At;
            string temp = $"{dir}/.{before.Key}.{Environment.ProcessId}.tmp";
            var options = new FileStreamOptions { Mode = FileMode.Create, Access = FileAccess.Write };
            if (!OperatingSystem.IsWindows())
                options.UnixCreateMode = UnixFileMode.UserRead | UnixFileMode.UserWrite;
            using (var stream = new FileStream(temp, options))
                stream.Write(System.Text.Encoding.ASCII.GetBytes(before.Text + " " + digest + "\n"));
            File.Move(temp, dir + "/" + before.Key, overwrite: true);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException or XarLaunchException)
        {
        }
    }

    /// <summary>Deletes the record of <paramref name="identity"/>, if there is one. Never fails.</summary>
    public static void Forget(Identity identity)
    {
        try
        {
            using var records = XarBlobCache.OpenHeld(Directory);
            File.Delete(records.At + "/" + identity.Key);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException or XarLaunchException)
        {
        }
    }

    private static bool IsDigest(string text) =>
        text.Length == 71 && text.StartsWith("sha256:", StringComparison.Ordinal) && !text.AsSpan(7).ContainsAnyExcept("0123456789abcdef");

    /// <summary>gc: deletes records of every cache directory last used before <paramref name="usedBefore"/> (Unix seconds).</summary>
    public static void Collect(List<XarGcAction> actions, long usedBefore, bool dryRun)
    {
        foreach (var root in XarCache.Roots())
        {
            string dir = root.Path + "/" + Directory;
            if (PosixPath.TryLstat(dir) is not { IsDirectory: true })
                continue;
            using var opened = OpenedDirectory.TryOpen(dir, out _); // the root's name may be any bytes: see there
            if (opened is null)
                continue;
            string[] files;
            try
            {
                files = System.IO.Directory.GetFiles(opened.At);
            }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException)
            {
                continue;
            }
            foreach (string file in files)
            {
                string shown = dir + "/" + Path.GetFileName(file); // what the actions name
                if (PosixPath.TryLstat(file) is not { IsRegularFile: true } st || st.ModifiedSeconds > usedBefore)
                    continue;
                if (dryRun)
                    actions.Add(new("digest", shown, "would delete"));
                else if (LibC.Unlink(file) == 0)
                    actions.Add(new("digest", shown, "deleted"));
            }
        }
    }
}
