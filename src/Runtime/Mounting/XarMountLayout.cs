using System.Globalization;
using System.Text;
using Xar.Runtime;
using static Xar.Posix.LibC;

namespace Xar.Runtime;

/// <summary>
/// Where a XAR is mounted: <c>ROOT/uid-EUID/UUID[-seed-SEED]-ns-MNTNS</c>, its lock file
/// <c>ROOT/uid-EUID/lockfile.DIRNAME</c> beside it. The same names Facebook's xarexec uses, so one
/// XAR shares one mount per user, namespace and cgroup whichever launcher started it.
/// </summary>
public sealed class XarMountLocation
{
    internal XarMountLocation(string mountRoot, string userDirectory, string directoryName)
    {
        MountRoot = mountRoot;
        UserDirectory = userDirectory;
        DirectoryName = directoryName;
    }

    public string MountRoot { get; }

    /// <summary><c>ROOT/uid-EUID</c>, mode 0755, owned by the user.</summary>
    public string UserDirectory { get; }

    public string DirectoryName { get; }

    public string MountPath => UserDirectory + "/" + DirectoryName;

    public string LockPath => UserDirectory + "/" + XarMountLayout.LockFilePrefix + DirectoryName;
}

// xarexec's pre-runtime fast start (src/Launcher/PreRuntime/FastStart.cs) repeats these names and checks
// allocation-free: a change here must be made there too (FastStartTests hold them together).
public static class XarMountLayout
{
    public const string LockFilePrefix = "lockfile.";
    /// <summary>Environment variable naming the mount root; it wins over the header's MOUNT_ROOT.</summary>
    public const string MountRootVariable = "XAR_MOUNT_ROOT";
    public const string SeedVariable = "XAR_MOUNT_SEED";
    public const uint RootMode = 0x3FF; // 01777
    public const uint UserDirectoryMode = 0x1ED; // 0755

    public static IReadOnlyList<string> DefaultMountRoots { get; } = ["/mnt/xarfuse", "/dev/shm"];

    /// <summary>
    /// The mount root for <paramref name="header"/> ($XAR_MOUNT_ROOT, else MOUNT_ROOT, else the first
    /// default that is a directory with mode 01777), checked: a directory, mode 01777, owned by root or us.
    /// </summary>
    public static string ResolveMountRoot(XarHeader? header)
    {
        string? root = Environment.GetEnvironmentVariable(MountRootVariable);
        if (string.IsNullOrEmpty(root))
            root = header?.MountRoot;
        if (string.IsNullOrEmpty(root))
        {
            foreach (string candidate in DefaultMountRoots)
                if (PosixPath.TryStat(candidate) is { IsDirectory: true } st && st.Permissions == RootMode)
                    return candidate;
            throw new FuseUnavailableException(
                $"no mount root: neither {string.Join(" nor ", DefaultMountRoots)} is a directory with mode 1777 (try: mkdir -m 1777 {DefaultMountRoots[0]})");
        }
        CheckMountRoot(root);
        return root.Length > 1 ? root.TrimEnd('/') : root;
    }

    public static void CheckMountRoot(string root)
    {
        var st = PosixPath.TryStat(root) ?? throw new XarLaunchException($"mount root {root} does not exist");
        if (!st.IsDirectory)
            throw new XarLaunchException($"mount root {root} is not a directory");
        if (st.Permissions != RootMode)
            throw new XarLaunchException($"mount root {root} has mode {Convert.ToString(st.Permissions, 8)}, expected 1777");
        if (st.Uid != 0 && st.Uid != GetEuid())
            throw new XarLaunchException($"mount root {root} is owned by uid {st.Uid}, neither root nor us");
    }

    /// <summary>The location without touching the file system beyond reading the namespace ids.</summary>
    public static XarMountLocation Locate(XarHeader header) => Locate(header.Uuid, ResolveMountRoot(header));

    public static XarMountLocation Locate(string uuid, string mountRoot) =>
        new(mountRoot, UserDirectoryFor(mountRoot), DirectoryName(uuid, Environment.GetEnvironmentVariable(SeedVariable)));

    public static string UserDirectoryFor(string mountRoot) =>
        (mountRoot == "/" ? "" : mountRoot) + "/uid-" + GetEuid().ToString(CultureInfo.InvariantCulture);

    /// <summary>
    /// <c>UUID[-seed-SEED]-ns-MNTNS</c>: SEED is $XAR_MOUNT_SEED when set (and free of '/'), else
    /// <c>nspid&lt;pid-namespace inode&gt;[_cgpid&lt;cgroup inode&gt;]</c>, so processes in different pid
    /// namespaces or cgroups never share a squashfuse process that a cgroup kill could take down.
    /// </summary>
    public static string DirectoryName(string uuid, string? seed)
    {
        var name = new StringBuilder(uuid, 96);
        if (!string.IsNullOrEmpty(seed) && !seed.Contains('/'))
            name.Append("-seed-").Append(seed);
        else if (PosixPath.TryStat("/proc/self/ns/pid") is { } pidNs)
        {
            name.Append("-seed-nspid").Append(pidNs.Inode);
            if (CgroupInode() is { } cgroup)
                name.Append("_cgpid").Append(cgroup);
        }
        if (PosixPath.TryStat("/proc/self/ns/mnt") is { } mntNs)
            name.Append("-ns-").Append(mntNs.Inode);
        return name.ToString();
    }

    /// <summary>
    /// The inode of our cgroup directory: the path in the first line of /proc/self/cgroup
    /// (<c>ID:CONTROLLERS:PATH</c>) under /sys/fs/cgroup or /cgroup2, as Facebook's launcher reads it.
    /// </summary>
    private static ulong? CgroupInode()
    {
        string? text = ReadSmallFile("/proc/self/cgroup");
        if (text is null)
            return null;
        int newline = text.IndexOf('\n');
        string firstLine = newline >= 0 ? text[..newline] : text;
        int first = firstLine.IndexOf(':');
        int second = first < 0 ? -1 : firstLine.IndexOf(':', first + 1);
        if (second < 0)
            return null;
        string path = firstLine[(second + 1)..];
        foreach (string mount in (ReadOnlySpan<string>)["/sys/fs/cgroup", "/cgroup2"])
        {
            try
            {
                if (PosixPath.TryStat(mount + "/" + path) is { } st)
                    return st.Inode;
            }
            catch (XarLaunchException)
            {
            }
        }
        return null;
    }

    /// <summary>A small file's text (a /proc file): null when it cannot be read or is 4 KiB or larger.</summary>
    internal static unsafe string? ReadSmallFile(string path)
    {
        int fd = Open(path, O_RDONLY | O_CLOEXEC, 0);
        if (fd < 0)
            return null;
        try
        {
            byte* buffer = stackalloc byte[4096];
            int total = 0;
            while (total < 4096)
            {
                nint n = Read(fd, buffer + total, 4096 - total);
                if (n < 0 && LastError == EINTR)
                    continue;
                if (n <= 0)
                    break;
                total += (int)n;
            }
            return total >= 4096 ? null : Encoding.UTF8.GetString(buffer, total);
        }
        finally
        {
            Close(fd);
        }
    }

    /// <summary>
    /// Splits a mount directory name into its UUID (for gc and unmount): null when the name is not
    /// one of ours (<c>HEX[-seed-...]-ns-DIGITS</c>, or Facebook's older <c>HEX-ns-DIGITS</c>).
    /// </summary>
    public static string? TryParseDirectoryName(string name)
    {
        int dash = name.IndexOf('-');
        if (dash <= 0 || name.AsSpan(0, dash).ContainsAnyExcept("0123456789abcdefABCDEF"))
            return null;
        int ns = name.LastIndexOf("-ns-", StringComparison.Ordinal);
        if (ns < dash || ns + 4 >= name.Length || name.AsSpan(ns + 4).ContainsAnyExceptInRange('0', '9'))
            return null;
        string middle = name[dash..ns];
        if (middle.Length > 0 && !middle.StartsWith("-seed-", StringComparison.Ordinal))
            return null;
        return name[..dash];
    }
}
