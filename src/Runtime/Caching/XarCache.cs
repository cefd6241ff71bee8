using System.Globalization;
using Xar.Runtime;
using static Xar.Posix.LibC;
using Xar.SquashFs.Format;
using Xar.Posix;

namespace Xar.Runtime;

/// <summary>
/// A XAR extracted into the cache, with the entry's lock held shared: gc, which needs the lock
/// exclusively, never deletes an entry in use. The launcher lets the lock descriptor live on in
/// the program it execs, so "in use" lasts as long as the program runs.
/// </summary>
public sealed class XarCacheEntry : IDisposable
{
    internal XarCacheEntry(string path, XarLockFile lockFile, bool extracted)
    {
        Path = path;
        Lock = lockFile;
        Extracted = extracted;
    }

    /// <summary>The extracted tree: <c>CACHE/UUID</c>.</summary>
    public string Path { get; }

    public XarLockFile Lock { get; }

    /// <summary>True when this call extracted the image (false: a complete entry was already there).</summary>
    public bool Extracted { get; }

    public void Dispose() => Lock.Dispose();
}

// xarexec's pre-runtime fast start (src/Launcher/PreRuntime/FastStart.cs) repeats the cache lookup
// allocation-free: a change to the roots or checks here must be made there too (FastStartTests hold them together).
/// <summary>
/// The extraction cache, for where FUSE cannot serve: <c>${XAR_CACHE_DIR:-${XDG_CACHE_HOME:-~/.cache}/xar}/UUID</c>,
/// extracted once (into a temporary sibling, renamed into place, under <c>lockfile.UUID</c>), so an
/// entry is complete or absent. A cache directory on a noexec file system is passed over for the next
/// of: the default cache, <c>${TMPDIR:-/tmp}/xar-EUID</c>, <c>/var/tmp/xar-EUID</c>.
/// </summary>
public static class XarCache
{
    public const string CacheDirVariable = "XAR_CACHE_DIR";
    public const string LockFilePrefix = "lockfile.";
    private const uint PrivateDirectoryMode = 0x1C0; // 0700

    /// <summary>
    /// A cache directory to try. Shared: in a world-writable place (so it must be ours alone, 0700).
    /// Explicit: named by $XAR_CACHE_DIR, so failing to use it is an error rather than a reason to try the next.
    /// </summary>
    public readonly record struct CacheRoot(string Path, bool Shared, bool Explicit = false);

    /// <summary>The cache directories in the order they are tried.</summary>
    public static IReadOnlyList<CacheRoot> Roots()
    {
        var roots = new List<CacheRoot>(4);
        void Add(string? path, bool shared, bool isExplicit = false)
        {
            if (string.IsNullOrEmpty(path) || path[0] != '/')
                return;
            path = path.Length > 1 ? path.TrimEnd('/') : path;
            foreach (var r in roots)
                if (r.Path == path)
                    return;
            roots.Add(new CacheRoot(path, shared, isExplicit));
        }
        Add(Environment.GetEnvironmentVariable(CacheDirVariable), false, isExplicit: true);
        string? xdg = Environment.GetEnvironmentVariable("XDG_CACHE_HOME");
        string? home = Environment.GetEnvironmentVariable("HOME");
        Add(!string.IsNullOrEmpty(xdg) ? xdg + "/xar" : !string.IsNullOrEmpty(home) ? home + "/.cache/xar" : null, false);
        string euid = GetEuid().ToString(CultureInfo.InvariantCulture);
        string? tmp = Environment.GetEnvironmentVariable("TMPDIR");
        Add((string.IsNullOrEmpty(tmp) ? "/tmp" : tmp.TrimEnd('/')) + "/xar-" + euid, true);
        Add("/var/tmp/xar-" + euid, true);
        return roots;
    }

    /// <summary>
    /// The complete cache entry for <paramref name="header"/> if one exists (reading nothing of the
    /// image), else null. Used before anything else so a cached start costs a few system calls.
    /// </summary>
    public static XarCacheEntry? TryOpenExisting(XarHeader header)
    {
        foreach (var root in Roots())
        {
            string entry = root.Path + "/" + header.Uuid;
            if (PosixPath.TryLstat(entry) is not { IsDirectory: true } st || st.Uid != GetEuid())
                continue;
            if (PosixPath.TryLstat(root.Path + "/" + LockFilePrefix + header.Uuid) is null)
                continue;
            CheckRoot(root);
            var lockFile = XarLockFile.Acquire(root.Path + "/" + LockFilePrefix + header.Uuid, exclusive: false);
            // gc may have removed the entry while we waited for the lock.
            if (PosixPath.TryLstat(entry) is { IsDirectory: true })
            {
                lockFile.Touch();
                return new XarCacheEntry(entry, lockFile, extracted: false);
            }
            lockFile.Dispose();
        }
        return null;
    }

    /// <summary>
    /// Returns the cache entry for the XAR, extracting it first when missing (one extraction at a
    /// time per entry; the others wait and reuse it). <paramref name="extract"/> writes the image
    /// into a destination that must not exist, all or nothing.
    /// </summary>
    public static XarCacheEntry OpenOrExtract(string xarPath, XarHeader header, Action<string, string> extract)
    {
        var skipped = new List<string>();
        foreach (var root in Roots())
        {
            try
            {
                EnsureRoot(root);
            }
            catch (XarLaunchException e) when (!root.Explicit)
            {
                skipped.Add(e.Message);
                continue;
            }
            if (PosixPath.IsNoExec(root.Path))
            {
                skipped.Add(root.Path + " is on a noexec file system");
                continue;
            }
            return OpenOrExtractIn(root.Path, xarPath, header, extract);
        }
        throw new XarLaunchException($"no cache directory where programs may run: {string.Join("; ", skipped)}");
    }

    private static XarCacheEntry OpenOrExtractIn(string root, string xarPath, XarHeader header, Action<string, string> extract)
    {
        string entry = root + "/" + header.Uuid;
        var lockFile = XarLockFile.Acquire(root + "/" + LockFilePrefix + header.Uuid, exclusive: true);
        try
        {
            bool extracted = false;
            var existing = PosixPath.TryLstat(entry);
            if (existing is null)
            {
                RemoveLeftovers(root, header.Uuid);
                try
                {
                    extract(xarPath, entry);
                }
                catch (Exception e) when (e is IOException or UnauthorizedAccessException or InvalidArchiveException)
                {
                    RemoveLeftovers(root, header.Uuid);
                    throw new XarLaunchException($"cannot extract into {entry}: {e.Message.ReplaceLineEndings(" ")}", e);
                }
                extracted = true;
            }
            else if (!existing.Value.IsDirectory || existing.Value.Uid != GetEuid())
            {
                throw new XarLaunchException($"cache entry {entry} is not a directory of ours");
            }
            lockFile.Touch();
            lockFile.LockShared(); // downgrade: others may run it now; gc still sees it in use
            return new XarCacheEntry(entry, lockFile, extracted);
        }
        catch
        {
            lockFile.Dispose();
            throw;
        }
    }

    /// <summary>Temporary trees an extraction killed half-way left behind (we hold the entry's lock).</summary>
    private static void RemoveLeftovers(string root, string uuid)
    {
        string prefix = "." + uuid + ".xar-tmp-";
        try
        {
            foreach (string dir in Directory.EnumerateDirectories(root, prefix + "*"))
                TreeRemover.Delete(dir);
        }
        catch (IOException)
        {
        }
        catch (UnauthorizedAccessException)
        {
        }
    }

    private static void EnsureRoot(CacheRoot root)
    {
        if (root.Shared)
        {
            // A directory in a world-writable place: ours alone, 0700, never a symlink.
            PosixPath.EnsureOwnedDirectory(root.Path, PrivateDirectoryMode);
            return;
        }
        if (PosixPath.TryStat(root.Path) is null)
        {
            CreateWithParents(root.Path);
        }
        CheckRoot(root);
    }

    /// <summary>mkdir -p, each new directory 0700.</summary>
    private static void CreateWithParents(string path)
    {
        int slash = path.LastIndexOf('/');
        if (slash > 0 && PosixPath.TryStat(path[..slash]) is null)
            CreateWithParents(path[..slash]);
        if (Mkdir(path, (int)PrivateDirectoryMode) != 0 && LastError != EEXIST)
            throw new XarLaunchException($"cannot create cache directory {path}: {Describe(LastError)}");
    }

    /// <summary>The user's own cache directory may be a symlink, but it must be ours and writable by nobody else.</summary>
    private static void CheckRoot(CacheRoot root)
    {
        if (root.Shared)
        {
            PosixPath.CheckOwned(root.Path, PosixPath.TryLstat(root.Path), expectDirectory: true, PrivateDirectoryMode);
            return;
        }
        var st = PosixPath.TryStat(root.Path) ?? throw new XarLaunchException($"cache directory {root.Path} does not exist");
        if (!st.IsDirectory)
            throw new XarLaunchException($"cache directory {root.Path} is not a directory");
        if (st.Uid != GetEuid())
            throw new XarLaunchException($"cache directory {root.Path} is owned by uid {st.Uid}, not by uid {GetEuid()}");
        if ((st.Permissions & 0x12) != 0)
            throw new XarLaunchException($"cache directory {root.Path} is writable by others (mode {Convert.ToString(st.Permissions, 8)})");
        if (Access(root.Path, 2 /* W_OK */) != 0)
            throw new XarLaunchException($"cache directory {root.Path} is not writable: {Describe(LastError)}");
    }
}
