using Xar.Posix;
using Xar.Runtime.Launching;

namespace Xar.Runtime;

/// <summary>
/// The extraction cache as gc sees it: every root the launcher may use (<see cref="LaunchCore.CacheRootCandidate"/>
/// decides them), entries <c>ROOT/UUID</c> with their locks <c>ROOT/lockfile.UUID</c>, and the temporary trees
/// <c>ROOT/.UUID.xar-tmp-*</c> an extraction killed half-way leaves.
/// </summary>
public static class XarCache
{
    public const string CacheDirVariable = "XAR_CACHE_DIR";
    public const string LockFilePrefix = "lockfile.";

    /// <summary>A cache directory. Shared: in a world-writable place (so it must be ours alone, 0700).</summary>
    public readonly record struct CacheRoot(string Path, bool Shared);

    /// <summary>The cache directories in the order the launcher tries them.</summary>
    public static unsafe IReadOnlyList<CacheRoot> Roots()
    {
        var roots = new List<CacheRoot>(LaunchCore.CacheCandidates);
        byte* buffer = stackalloc byte[PathBuilder.Capacity];
        var env = new ProcessEnvironment(LibC.Environ);
        for (int i = 0; i < LaunchCore.CacheCandidates; i++)
        {
            var path = new PathBuilder(buffer);
            LaunchCore.CacheRootCandidate(env, i, ref path, out var kind);
            if (path.Length == 0 || buffer[0] != '/' || !path.Fits)
                continue;
            path.TrimTrailingSlashes();
            string text = LosslessUtf8.Decode(new ReadOnlySpan<byte>(buffer, path.Length)); // any bytes: gc opens it as given
            if (!roots.Exists(r => r.Path == text))
                roots.Add(new CacheRoot(text, kind == LaunchCore.CacheRootKind.Shared));
        }
        return roots;
    }

    /// <summary>Temporary trees an extraction killed half-way left behind (the caller holds the entry's lock).</summary>
    public static void RemoveLeftovers(string root, string uuid)
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
}
