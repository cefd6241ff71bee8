using Xar.Posix;

namespace Xar.Runtime;

/// <summary>
/// Files pulled from a registry (`xar pull`), kept by content: <c>ROOT/blobs/sha256/HEX</c> in the first cache
/// directory of <see cref="XarCache.Roots"/> (the user's, <c>${XAR_CACHE_DIR:-${XDG_CACHE_HOME:-~/.cache}/xar}</c>),
/// with <c>ROOT/blobs/sha256/.HEX.part</c> while a download is under way (what a resumed pull continues from).
/// A blob's mtime is its last use (a pull that finds it touches it); gc deletes blobs and partial downloads not
/// used for its <c>--older-than</c>, as it does extraction-cache entries. No lock is needed: a blob is written
/// whole under its temporary name and renamed, a pull reads it through a descriptor it opened (an unlink then
/// does not disturb it), and checks its digest as it copies it.
/// </summary>
public static class XarBlobCache
{
    public const string Directory = "blobs/sha256";
    public const string PartialSuffix = ".part";

    /// <summary>ROOT/blobs/sha256 in the cache directory pulls use, created (0700) and checked to be ours.</summary>
    /// <exception cref="XarLaunchException">No cache directory could be made or one is not ours.</exception>
    public static string Open()
    {
        var reasons = new List<string>();
        foreach (var root in XarCache.Roots())
        {
            try
            {
                MakeDirectories(root.Path);
                var st = PosixPath.TryStat(root.Path);
                if (st is not { IsDirectory: true } || st.Value.Uid != PosixPath.EffectiveUserId || (root.Shared && st.Value.Permissions != 0x1C0))
                    throw new XarLaunchException($"{root.Path} is not a directory of ours{(root.Shared ? " with mode 0700" : "")}");
                string path = root.Path;
                foreach (string part in Directory.Split('/'))
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

    /// <summary>mkdir -p with mode 0700 for what it creates.</summary>
    private static void MakeDirectories(string path)
    {
        if (PosixPath.TryStat(path) is not null)
            return;
        if (Path.GetDirectoryName(path) is { Length: > 1 } parent)
            MakeDirectories(parent);
        if (LibC.Mkdir(path, 0x1C0) != 0 && LibC.LastError is int errno && errno != LibC.EEXIST)
            throw new XarLaunchException($"cannot create {path}: {LibC.Describe(errno)}");
    }

    /// <summary>True for a cache file name: 64 lowercase hex digits, or a partial download ".HEX.part".</summary>
    public static bool IsBlobName(string name, out bool partial)
    {
        partial = name.StartsWith('.') && name.EndsWith(PartialSuffix, StringComparison.Ordinal);
        string hex = partial ? name[1..^PartialSuffix.Length] : name;
        return hex.Length == 64 && !hex.AsSpan().ContainsAnyExcept("0123456789abcdef");
    }

    /// <summary>gc: deletes blobs and partial downloads of every cache directory last used before <paramref name="usedBefore"/> (Unix seconds).</summary>
    public static void Collect(List<XarGcAction> actions, long usedBefore, bool dryRun)
    {
        foreach (var root in XarCache.Roots())
        {
            string dir = root.Path + "/" + Directory;
            if (PosixPath.TryLstat(dir) is not { IsDirectory: true })
                continue;
            string[] files;
            try
            {
                files = System.IO.Directory.GetFiles(dir);
            }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException)
            {
                continue;
            }
            foreach (string file in files)
            {
                if (!IsBlobName(Path.GetFileName(file), out _) || PosixPath.TryLstat(file) is not { IsRegularFile: true } st)
                    continue;
                if (st.ModifiedSeconds > usedBefore)
                {
                    actions.Add(new("blob", file, "recently used"));
                    continue;
                }
                if (dryRun)
                {
                    actions.Add(new("blob", file, "would delete"));
                    continue;
                }
                if (LibC.Unlink(file) != 0 && LibC.LastError is int errno && errno != LibC.ENOENT)
                {
                    actions.Add(new("blob", file, "cannot delete: " + LibC.Describe(errno)));
                    continue;
                }
                actions.Add(new("blob", file, "deleted"));
            }
        }
    }
}
