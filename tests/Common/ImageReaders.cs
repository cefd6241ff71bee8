using System.Diagnostics;
using System.Text;
using System.Text.RegularExpressions;

namespace Xar.Tests;

/// <summary>An image made visible as a directory by a reader; disposing takes it away again (unmount, delete).</summary>
public sealed class ImageView : IDisposable
{
    private Action? _close;

    public ImageView(string root, string description, ReaderQuirks quirks, Action close)
    {
        Root = root;
        Description = description;
        Quirks = quirks;
        _close = close;
    }

    public string Root { get; }

    public string Description { get; }

    public ReaderQuirks Quirks { get; }

    public void Dispose()
    {
        var close = _close;
        _close = null;
        close?.Invoke();
    }
}

/// <summary>A real peer that shows what a SquashFS image holds (never our own reader: it is what is being judged).</summary>
public abstract class ImageReader
{
    public abstract string Name { get; }

    /// <summary>Shows the image found at <paramref name="offset"/> in <paramref name="image"/> as the directory <paramref name="place"/>, which must not exist yet.</summary>
    public abstract ImageView Open(string image, long offset, string place);
}

/// <summary>
/// A reader that mounts: runs a command (with IMAGE, OFFSET and MOUNTPOINT in its environment),
/// waits until the mount point appears in /proc/self/mountinfo, and unmounts on dispose. The
/// command may return once mounted (mount, squashfuse) or keep serving in the foreground (it is
/// stopped after the unmount if it does not end by itself).
/// </summary>
public sealed class MountReader : ImageReader
{
    private static readonly TimeSpan MountTimeout = TimeSpan.FromSeconds(15);
    private readonly Func<string, long, string, IReadOnlyList<string>> _command;
    private readonly Func<ReaderQuirks> _quirks;

    /// <param name="name">as given to --via</param>
    /// <param name="command">(image, offset, mount point) to the program and its arguments</param>
    /// <param name="quirks">the reader's known misreadings; asked when an image is opened</param>
    public MountReader(string name, Func<string, long, string, IReadOnlyList<string>> command, Func<ReaderQuirks>? quirks = null)
    {
        Name = name;
        _command = command;
        _quirks = quirks ?? (() => ReaderQuirks.None);
    }

    public override string Name { get; }

    /// <summary>Any shell command line, e.g. <c>xar fuse -o offset=$OFFSET "$IMAGE" "$MOUNTPOINT"</c>.</summary>
    public static MountReader FromShellCommand(string commandLine) =>
        new("mount:" + commandLine, (_, _, _) => ["/bin/sh", "-c", commandLine]);

    public override ImageView Open(string image, long offset, string place)
    {
        ReaderQuirks quirks = _quirks();
        IReadOnlyList<string> command = _command(image, offset, place);
        Directory.CreateDirectory(place);
        string mountPoint = MountTable.Canonical(place);
        string log = place + ".log";
        var psi = new ProcessStartInfo("/bin/sh") { UseShellExecute = false };
        // Output goes to a file, not a pipe: a daemon or foreground server may keep it open for good.
        foreach (string a in (string[])["-c", "exec >\"$0\" 2>&1 </dev/null; exec \"$@\"", log, .. command])
            psi.ArgumentList.Add(a);
        psi.Environment["IMAGE"] = Path.GetFullPath(image);
        psi.Environment["OFFSET"] = offset.ToString();
        psi.Environment["MOUNTPOINT"] = mountPoint;
        var process = Process.Start(psi) ?? throw new InvalidOperationException($"cannot start {command[0]}");
        var deadline = DateTime.UtcNow + MountTimeout;
        string? failure = null;
        while (!MountTable.IsMounted(mountPoint))
        {
            if (process.HasExited && process.ExitCode != 0)
                failure = $"exit {process.ExitCode}";
            else if (DateTime.UtcNow > deadline)
                failure = $"no mount after {MountTimeout.TotalSeconds} s";
            if (failure is not null)
                break;
            Thread.Sleep(20);
        }
        if (failure is not null)
        {
            string output = File.Exists(log) ? File.ReadAllText(log).Trim() : "";
            Close(mountPoint, process, log);
            throw new InvalidOperationException($"{image}: {Name} did not mount it ({failure}): {string.Join(' ', command)}\n{output}");
        }
        return new ImageView(mountPoint, $"image {image} (offset {offset}, via {Name})", quirks, () => Close(mountPoint, process, log));
    }

    private static void Close(string mountPoint, Process process, string log)
    {
        string[][] attempts = TestEnv.IsRoot
            ? [["umount", mountPoint], ["fusermount3", "-u", mountPoint], ["umount", "-l", mountPoint]]
            : [["fusermount3", "-u", mountPoint], ["fusermount", "-u", mountPoint]];
        foreach (var attempt in attempts)
        {
            if (!MountTable.IsMounted(mountPoint))
                break;
            if (TestEnv.FindTool(attempt[0]) is { } tool)
                TestEnv.Run(tool, attempt[1..]);
        }
        if (!process.WaitForExit(TimeSpan.FromSeconds(10)))
        {
            process.Kill(entireProcessTree: true);
            process.WaitForExit();
        }
        process.Dispose();
        if (MountTable.IsMounted(mountPoint))
            throw new IOException($"could not unmount {mountPoint}");
        Directory.Delete(mountPoint);
        File.Delete(log);
    }
}

/// <summary>unsquashfs -d into a fresh directory (owners, devices and trusted.* xattrs only as root), deleted on dispose.</summary>
public sealed class UnsquashfsReader : ImageReader
{
    public override string Name => "unsquashfs";

    public override ImageView Open(string image, long offset, string place)
    {
        string tool = TestEnv.FindTool("unsquashfs") ?? throw new InvalidOperationException("unsquashfs not found on PATH");
        var r = TestEnv.Run(new RunOptions(tool, ["-q", "-n", "-d", place, "-o", offset.ToString(), image]) { TimeoutMs = 900_000 });
        string description = $"image {image} (offset {offset}, via unsquashfs)";
        if (r.ExitCode != 0)
        {
            // What it did extract is still compared: the differences then say what is missing.
            if (!Directory.Exists(place))
                throw new InvalidOperationException($"{image}: unsquashfs failed (exit {r.ExitCode}): {r.StandardError.Trim()}");
            description += $"; unsquashfs exit {r.ExitCode}: {r.StandardError.Trim().Split('\n')[0]}";
        }
        return new ImageView(place, description, ReaderQuirks.None, () => Delete(place));
    }

    private static void Delete(string place)
    {
        TestEnv.Run("chmod", "-R", "u+rwX", place);
        // --one-file-system: never reach into something mounted below it.
        TestEnv.Run("rm", "-rf", "--one-file-system", place).EnsureSuccess("rm -rf " + place);
    }
}

/// <summary>
/// The readers --via names. A new reader is one more entry here, or, without code, any mount
/// command: <c>--via 'mount:COMMAND'</c> (run by /bin/sh with IMAGE, OFFSET and MOUNTPOINT set).
/// </summary>
public static class ImageReaders
{
    private static readonly Lock Gate = new();

    private static readonly Dictionary<string, ImageReader> Named = new(StringComparer.Ordinal)
    {
        ["kernel"] = new MountReader("kernel", (image, offset, dir) => ["mount", "-t", "squashfs", "-o", $"loop,ro,offset={offset}", image, dir]),
        ["squashfuse_ll"] = SquashFuse("squashfuse_ll", ReaderQuirks.None),
        ["squashfuse"] = SquashFuse("squashfuse", ReaderQuirks.InodePerPath),
        ["unsquashfs"] = new UnsquashfsReader(),
    };

    public static IReadOnlyCollection<string> Names
    {
        get
        {
            lock (Gate)
                return ["auto", .. Named.Keys, "mount:COMMAND"];
        }
    }

    /// <summary>Makes <paramref name="reader"/> available as --via NAME.</summary>
    public static void Register(string name, ImageReader reader)
    {
        lock (Gate)
            Named[name] = reader;
    }

    /// <summary>auto: the kernel as root, else squashfuse_ll, squashfuse or unsquashfs, whichever is there first.</summary>
    public static ImageReader Resolve(string via)
    {
        if (via.StartsWith("mount:", StringComparison.Ordinal) && via.Length > "mount:".Length)
            return MountReader.FromShellCommand(via["mount:".Length..]);
        if (via == "auto")
            via = TestEnv.IsRoot ? "kernel"
                : new[] { "squashfuse_ll", "squashfuse" }.FirstOrDefault(t => TestEnv.FindTool(t) is not null) ?? "unsquashfs";
        lock (Gate)
            return Named.TryGetValue(via, out var reader)
                ? reader
                : throw new ArgumentException($"unknown --via '{via}' (one of: {string.Join(' ', Names)})");
    }

    private static MountReader SquashFuse(string tool, ReaderQuirks always) => new(
        tool,
        (image, offset, dir) => [TestEnv.FindTool(tool) ?? throw new InvalidOperationException($"{tool} not found on PATH"), "-o", $"offset={offset}", image, dir],
        () => always | SquashFuseVersionQuirks(tool));

    private static readonly Dictionary<string, ReaderQuirks> VersionQuirks = [];

    /// <summary>Before 0.2.0 (Debian 12's 0.1.105 calls itself 0.1.104) squashfuse swaps trusted./security. and cannot read empty xattr values.</summary>
    private static ReaderQuirks SquashFuseVersionQuirks(string tool)
    {
        lock (Gate)
        {
            if (VersionQuirks.TryGetValue(tool, out var known))
                return known;
            string? path = TestEnv.FindTool(tool);
            var r = path is null ? null : TestEnv.Run(path, "-V");
            var m = Regex.Match(r is null ? "" : Encoding.UTF8.GetString(r.StandardOutputBytes) + r.StandardError, @"squashfuse (\d+)\.(\d+)");
            bool old = !m.Success || (int.Parse(m.Groups[1].Value), int.Parse(m.Groups[2].Value)).CompareTo((0, 2)) < 0;
            return VersionQuirks[tool] = old ? ReaderQuirks.SecurityTrustedSwapped | ReaderQuirks.EmptyXattrUnreadable : ReaderQuirks.None;
        }
    }
}

/// <summary>Whether a directory is a mount point, from /proc/self/mountinfo (never by touching the mount, which may hang).</summary>
internal static unsafe class MountTable
{
    public static bool IsMounted(string canonicalPath)
    {
        foreach (string line in File.ReadLines("/proc/self/mountinfo"))
        {
            // ID PARENT MAJOR:MINOR ROOT MOUNTPOINT ...; the mount point escapes space, tab, newline and \ as \ooo.
            string[] fields = line.Split(' ');
            if (fields.Length > 4 && Unescape(fields[4]) == canonicalPath)
                return true;
        }
        return false;
    }

    /// <summary>The directory's path as the kernel names it (symlinks resolved), as mountinfo will show it.</summary>
    public static string Canonical(string directory)
    {
        int fd;
        fixed (byte* p = TreeNative.CString(Encoding.UTF8.GetBytes(directory)))
            fd = TreeNative.Open(p, TreeNative.ORdOnly | TreeNative.ODirectory | TreeNative.OCloExec, 0);
        if (fd < 0)
            throw new IOException($"{directory}: {TreeNative.ErrorText(TreeNative.LastError)}");
        try
        {
            return new FileInfo($"/proc/self/fd/{fd}").LinkTarget ?? throw new IOException($"{directory}: no path in /proc/self/fd");
        }
        finally
        {
            TreeNative.Close(fd);
        }
    }

    private static string Unescape(string field) =>
        Regex.Replace(field, @"\\([0-7]{3})", m => ((char)Convert.ToInt32(m.Groups[1].Value, 8)).ToString());
}
