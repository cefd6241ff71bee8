using System.Runtime.InteropServices;

namespace Xar.Tests;

/// <summary>
/// A private world for launcher runs: its own mount root (mode 1777, via XAR_MOUNT_ROOT), cache
/// (XAR_CACHE_DIR) and work folder. Dispose unmounts everything mounted under it.
/// </summary>
public sealed partial class LauncherSandbox : IDisposable
{
    private readonly TempDir _temp = new("launcher-");

    public LauncherSandbox()
    {
        MountRoot = _temp["mnt"];
        Directory.CreateDirectory(MountRoot);
        File.SetUnixFileMode(MountRoot, (UnixFileMode)0x3FF); // 1777
        CacheDir = _temp["cache"];
        Work = _temp["work"];
        Directory.CreateDirectory(Work);
        AppTree = _temp["app"];
        TestXar.WriteEchoAppTree(AppTree);
    }

    public string MountRoot { get; }

    public string CacheDir { get; }

    public string Work { get; }

    public string AppTree { get; }

    public string this[string relative] => _temp[relative];

    /// <summary>The environment every run gets: private roots, a mount timeout, no inherited XAR variables.</summary>
    public Dictionary<string, string?> Environment(bool extract = false) => new()
    {
        ["XAR_MOUNT_ROOT"] = MountRoot,
        ["XAR_CACHE_DIR"] = CacheDir,
        ["XAR_EXTRACT"] = extract ? "1" : null,
        ["XAR_MOUNT_SEED"] = null,
        ["XAR_MOUNT_TIMEOUT"] = null,
        ["XARFUSE_NEW_MOUNT"] = null,
        ["XAR_PATH"] = null,
        ["XAR_MOUNT"] = null,
    };

    public ProcessResult Run(string xar, IReadOnlyList<string> args, IReadOnlyDictionary<string, string?>? env = null,
        byte[]? stdin = null, bool extract = false)
    {
        var environment = Environment(extract);
        if (env is not null)
            foreach (var (k, v) in env)
                environment[k] = v;
        return TestEnv.Run(new RunOptions(LauncherBinary.Path, [xar, .. args])
        {
            Environment = environment,
            StandardInput = stdin,
            WorkingDirectory = Work,
            TimeoutMs = 120_000,
        });
    }

    /// <summary>The FUSE mounts (from /proc/self/mounts) whose mount point lies under this sandbox.</summary>
    public List<string> Mounts()
    {
        var result = new List<string>();
        foreach (string line in File.ReadAllLines("/proc/self/mounts"))
        {
            var fields = line.Split(' ');
            if (fields.Length < 3)
                continue;
            string mountPoint = fields[1].Replace("\\040", " ").Replace("\\134", "\\");
            if (mountPoint.StartsWith(_temp.Path + "/", StringComparison.Ordinal))
                result.Add(mountPoint);
        }
        return result;
    }

    public void UnmountAll()
    {
        foreach (string m in Mounts())
            umount2(m, 2 /* MNT_DETACH */);
    }

    [LibraryImport("libc", StringMarshalling = StringMarshalling.Utf8)]
    private static partial int umount2(string target, int flags);

    public void Dispose()
    {
        UnmountAll();
        _temp.Dispose();
    }
}
