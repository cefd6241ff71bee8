using Xar.Posix;

namespace Xar.Runtime;

/// <summary>
/// Files pulled from a registry (`xar pull`), kept by content: <c>ROOT/blobs/sha256/HEX</c> in the first cache
/// directory of <see cref="XarCache.Roots"/> (the user's, <c>${XAR_CACHE_DIR:-${XDG_CACHE_HOME:-~/.cache}/xar}</c>),
/// with <c>ROOT/blobs/sha256/.HEX.part</c> while a download is under way (what a resumed pull continues from).
/// A blob's mtime is its last use (a pull that finds it touches it); gc deletes blobs and partial downloads not
/// used for its <c>--older-than</c>, as it does extraction-cache entries. Reading a blob needs no lock: it is
/// written whole under its temporary name and renamed, and a pull checks its digest before it links it out. Making
/// one does: a pull holds <c>ROOT/blobs/sha256/.HEX.lock</c> (flock, <see cref="XarLockFile"/>) while it downloads,
/// so a second pull of the same blob waits, then finds the blob and reuses it. The holder deletes the lock file
/// before it lets go; gc deletes one a killed pull left, when nobody holds it.
/// </summary>
public static class XarBlobCache
{
    public const string Directory = "blobs/sha256";
    public const string PartialSuffix = ".part";
    public const string LockSuffix = ".lock";

    /// <summary>
    /// Takes the download lock of blob <paramref name="hex"/> in <paramref name="directory"/> (what <see cref="Open"/>
    /// returned), waiting while another pull holds it. Dispose with <see cref="Release"/>.
    /// </summary>
    public static XarLockFile Lock(string directory, string hex, Action? waiting = null) =>
        XarLockFile.Acquire(directory + "/." + hex + LockSuffix, exclusive: true, waiting);

    /// <summary>Deletes the lock file, then lets go of it: a pull waiting on it finds it gone and takes a new one.</summary>
    public static void Release(XarLockFile held)
    {
        _ = LibC.Unlink(held.Path); // when that fails, gc deletes it later
        held.Dispose();
    }

    /// <summary>ROOT/blobs/sha256 in the cache directory pulls use, created (0700) and checked to be ours.</summary>
    /// <exception cref="XarLaunchException">No cache directory could be made or one is not ours.</exception>
    public static string Open() => Open(Directory);

    /// <summary>
    /// <see cref="Open()"/>'s directory (or ROOT/<paramref name="directory"/>), held open and reached as /proc/self/fd/N
    /// (<see cref="OpenedDirectory.At"/>): its name may be any bytes (XAR_CACHE_DIR), which .NET's file calls would
    /// change; the names inside are ASCII, so those calls can be used under it.
    /// </summary>
    /// <exception cref="XarLaunchException">No cache directory could be made or opened, or one is not ours.</exception>
    public static OpenedDirectory OpenHeld(string directory = Directory)
    {
        string path = Open(directory);
        return OpenedDirectory.TryOpen(path, out int errno)
            ?? throw new XarLaunchException($"cannot open {LosslessUtf8.Display(path)}: {LibC.Describe(errno)}");
    }

    /// <summary>ROOT/<paramref name="directory"/> (a relative path) in the cache directory pulls use, created (0700) and checked to be ours.</summary>
    internal static string Open(string directory)
    {
        var reasons = new List<string>();
        foreach (var root in XarCache.Roots())
        {
            try
            {
                NativePath.CreateDirectories(root.Path, 0x1C0);
                var st = PosixPath.TryStat(root.Path);
                if (st is not { IsDirectory: true } || st.Value.Uid != PosixPath.EffectiveUserId || (root.Shared && st.Value.Permissions != 0x1C0))
                    throw new XarLaunchException($"{root.Path} is not a directory of ours{(root.Shared ? " with mode 0700" : "")}");
                string path = root.Path;
                foreach (string part in directory.Split('/'))
                {
                    path += "/" + part;
                    if (PosixPath.TryLstat(path) is null && LibC.Mkdir(path, 0x1C0) != 0 && LibC.LastError is int errno && errno != LibC.EEXIST)
                        throw new XarLaunchException($"cannot create {path}: {LibC.Describe(errno)}");
                    PosixPath.CheckOwned(path, PosixPath.TryLstat(path), expectDirectory: true, 0x1C0);
                }
                return path;
            }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException or XarLaunchException)
            {
                // The cache the environment names is the cache (as for extraction); the others are fallbacks.
                if (root == XarCache.Roots()[0] && !string.IsNullOrEmpty(Environment.GetEnvironmentVariable(XarCache.CacheDirVariable)))
                    throw new XarLaunchException($"cache directory {root.Path}: {e.Message}");
                reasons.Add(e.Message);
            }
        }
        throw new XarLaunchException("no usable cache directory: " + string.Join("; ", reasons));
    }

    /// <summary>True for a cache file name: 64 lowercase hex digits, or a partial download ".HEX.part".</summary>
    public static bool IsBlobName(string name, out bool partial)
    {
        partial = name.StartsWith('.') && name.EndsWith(PartialSuffix, StringComparison.Ordinal);
        string hex = partial ? name[1..^PartialSuffix.Length] : name;
        return IsHex(hex);
    }

    /// <summary>True for a download lock's name, ".HEX.lock".</summary>
    public static bool IsLockName(string name) =>
        name.StartsWith('.') && name.EndsWith(LockSuffix, StringComparison.Ordinal) && IsHex(name[1..^LockSuffix.Length]);

    private static bool IsHex(string hex) => hex.Length == 64 && !hex.AsSpan().ContainsAnyExcept("0123456789abcdef");

    /// <summary>gc: deletes blobs and partial downloads of every cache directory last used before <paramref name="usedBefore"/> (Unix seconds).</summary>
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
                if (IsLockName(Path.GetFileName(file)))
                {
                    CollectLock(actions, file, shown, usedBefore, dryRun);
                    continue;
                }
                if (!IsBlobName(Path.GetFileName(file), out _) || PosixPath.TryLstat(file) is not { IsRegularFile: true } st)
                    continue;
                if (st.ModifiedSeconds > usedBefore)
                {
                    actions.Add(new("blob", shown, "recently used"));
                    continue;
                }
                if (dryRun)
                {
                    actions.Add(new("blob", shown, "would delete"));
                    continue;
                }
                if (LibC.Unlink(file) != 0 && LibC.LastError is int errno && errno != LibC.ENOENT)
                {
                    actions.Add(new("blob", shown, "cannot delete: " + LibC.Describe(errno)));
                    continue;
                }
                actions.Add(new("blob", shown, "deleted"));
            }
        }
    }

    /// <summary>A download lock a killed pull left: deleted when unused for the limit and nobody holds it.</summary>
    private static void CollectLock(List<XarGcAction> actions, string file, string shown, long usedBefore, bool dryRun)
    {
        if (PosixPath.TryLstat(file) is not { IsRegularFile: true } st || st.ModifiedSeconds > usedBefore)
            return;
        if (dryRun)
        {
            actions.Add(new("blob", shown, "would delete"));
            return;
        }
        XarLockFile held;
        try
        {
            held = XarLockFile.Open(file, create: false);
        }
        catch (Exception e) when (e is FileNotFoundException or XarLaunchException)
        {
            return;
        }
        using (held)
        {
            if (!held.TryLockExclusive())
            {
                actions.Add(new("blob", shown, "in use"));
                return;
            }
            if (LibC.Unlink(file) == 0)
                actions.Add(new("blob", shown, "deleted"));
        }
    }
}
