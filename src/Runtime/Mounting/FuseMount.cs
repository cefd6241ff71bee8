using System.Globalization;
using static Xar.Posix.LibC;

namespace Xar.Runtime;

public enum FuseMountState
{
    NotMounted,
    Mounted,
    /// <summary>A FUSE mount whose daemon is gone (ENOTCONN / ECONNABORTED): unmount it, then mount again.</summary>
    Broken,
}

/// <summary>squashfuse mounts of XAR images: probe, mount, wait, unmount.</summary>
public static class FuseMount
{
    public const string LowLevelProgram = "squashfuse_ll";
    public const string HighLevelProgram = "squashfuse";
    public const string TimeoutVariable = "XAR_MOUNT_TIMEOUT";
    /// <summary>14.5 minutes: idle mounts go away by themselves, just before gc's 15-minute default would unmount them.</summary>
    public const int DefaultTimeoutSeconds = 870;
    private static readonly TimeSpan MountWait = TimeSpan.FromSeconds(9);

    /// <summary>
    /// Set by the launcher's fast start (src/Launcher/PreRuntime) to the program's name when it
    /// spawned squashfuse and waited in vain for the mount, so that the full launcher extracts at
    /// once instead of waiting again. Never passed on to the program.
    /// </summary>
    public const string MountDidNotAppearVariable = "XAREXEC_MOUNT_DID_NOT_APPEAR";

    /// <summary>Why FUSE did not serve when <paramref name="program"/>'s mount never appeared.</summary>
    public static string MountDidNotAppear(string program) =>
        $"the {program} mount did not appear within {MountWait.TotalSeconds:0} s";
    private static readonly string[] SystemDirectories = ["/usr/bin", "/bin", "/usr/sbin", "/sbin"];

    public static unsafe FuseMountState Probe(string path)
    {
        long* buffer = stackalloc long[32];
        if (StatFs(path, (byte*)buffer) == 0)
            return buffer[0] == FUSE_SUPER_MAGIC ? FuseMountState.Mounted : FuseMountState.NotMounted;
        int errno = LastError;
        if (errno is ENOTCONN or ECONNABORTED)
            return FuseMountState.Broken;
        if (errno is ENOENT or ENOTDIR)
            return FuseMountState.NotMounted;
        throw new XarLaunchException($"cannot statfs {path}: {Describe(errno)}");
    }

    /// <summary>The idle timeout for squashfuse_ll: $XAR_MOUNT_TIMEOUT seconds (empty or 0: none), default 870.</summary>
    public static int TimeoutSeconds
    {
        get
        {
            string? text = Environment.GetEnvironmentVariable(TimeoutVariable);
            if (text is null)
                return DefaultTimeoutSeconds;
            text = text.Trim();
            if (text.Length == 0)
                return 0;
            if (!int.TryParse(text, NumberStyles.None, CultureInfo.InvariantCulture, out int seconds))
                throw new XarLaunchException($"{TimeoutVariable}=\"{text}\" is not a number of seconds");
            return seconds;
        }
    }

    /// <summary>Why FUSE cannot mount here (no /dev/fuse, no squashfuse on PATH), or null when it can try.</summary>
    public static string? Unavailability(out string? program)
    {
        program = null;
        if (PosixPath.TryStat("/dev/fuse") is null)
            return "no /dev/fuse";
        program = ChildProcess.FindOnPath(LowLevelProgram) ?? ChildProcess.FindOnPath(HighLevelProgram);
        return program is null ? $"neither {LowLevelProgram} nor {HighLevelProgram} is on PATH" : null;
    }

    /// <summary>
    /// Mounts the image at <paramref name="offset"/> of <paramref name="imagePath"/> on
    /// <paramref name="mountPath"/> and waits until the mount serves. FuseUnavailableException when
    /// squashfuse is missing, fails, or its mount does not appear (nothing is left mounted then).
    /// </summary>
    public static void Mount(string imagePath, long offset, string mountPath, int timeoutSeconds)
    {
        string? reason = Unavailability(out string? program);
        if (reason is not null)
            throw new FuseUnavailableException(reason);
        string name = Path.GetFileName(program!);
        var options = "offset=" + offset.ToString(CultureInfo.InvariantCulture);
        // Only the low-level squashfuse knows the idle timeout; the high-level one rejects it.
        if (timeoutSeconds > 0 && name == LowLevelProgram)
            options += ",timeout=" + timeoutSeconds.ToString(CultureInfo.InvariantCulture);
        if (FuseConfAllowsOther())
            options += ",allow_root";
        var result = ChildProcess.Run(program!, "-o", options, Path.GetFullPath(imagePath), mountPath);
        if (!result.Succeeded)
            throw new FuseUnavailableException(result.Describe(name));
        WaitForMount(mountPath, name);
    }

    private static void WaitForMount(string mountPath, string program)
    {
        long start = Environment.TickCount64;
        long sleep = 50;
        while (true)
        {
            var state = Probe(mountPath);
            if (state == FuseMountState.Mounted)
                return;
            if (Environment.TickCount64 - start > MountWait.TotalMilliseconds)
            {
                TryUnmount(mountPath, lazy: true);
                throw new FuseUnavailableException(MountDidNotAppear(program));
            }
            SleepMicroseconds(sleep);
            sleep = Math.Min(sleep * 2, 20_000);
        }
    }

    /// <summary>True when /etc/fuse.conf has a <c>user_allow_other</c> line (then mounts get allow_root, as Facebook's do).</summary>
    public static bool FuseConfAllowsOther()
    {
        string? text = XarMountLayout.ReadSmallFile("/etc/fuse.conf");
        if (text is null)
            return false;
        foreach (var range in text.AsSpan().Split('\n'))
            if (text.AsSpan()[range].Trim().SequenceEqual("user_allow_other"))
                return true;
        return false;
    }

    /// <summary>Unmounts (lazily: detached now, gone when the last user closes). Throws with the cause on failure.</summary>
    public static void Unmount(string mountPath, bool lazy)
    {
        string? error = TryUnmount(mountPath, lazy);
        if (error is not null)
            throw new XarLaunchException($"cannot unmount {mountPath}: {error}");
    }

    /// <summary>Null on success, else why not. As root umount2; otherwise fusermount3 (or fusermount) -u.</summary>
    public static string? TryUnmount(string mountPath, bool lazy)
    {
        if (GetEuid() == 0)
        {
            if (Umount2(mountPath, (lazy ? MNT_DETACH : 0) | UMOUNT_NOFOLLOW) == 0)
                return null;
            int errno = LastError;
            if (errno != EPERM)
                return Describe(errno);
        }
        string? fusermount = ChildProcess.FindOnPath("fusermount3", SystemDirectories) ?? ChildProcess.FindOnPath("fusermount", SystemDirectories);
        if (fusermount is null)
            return "fusermount3 not found";
        var result = lazy
            ? ChildProcess.Run(fusermount, "-u", "-z", "-q", mountPath)
            : ChildProcess.Run(fusermount, "-u", "-q", mountPath);
        return result.Succeeded ? null : result.Describe(Path.GetFileName(fusermount));
    }
}
