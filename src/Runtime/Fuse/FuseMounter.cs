using System.Globalization;
using System.Runtime.InteropServices;
using System.Text;
using static Xar.Posix.LibC;

namespace Xar.Runtime.Fuse;

/// <summary>Who may use a mount besides the user who mounted it.</summary>
public enum FuseAccess
{
    /// <summary>Only the mounting user (the kernel's default for FUSE).</summary>
    Owner,
    /// <summary>The owner and root (libfuse's allow_root: the kernel lets everyone in, the server refuses the rest).</summary>
    OwnerAndRoot,
    /// <summary>Everyone (allow_other).</summary>
    Everyone,
}

/// <summary>How an unmount went.</summary>
public enum FuseUnmountResult
{
    Unmounted,
    /// <summary>Something has a file, a directory or its working directory open in it (EBUSY); nothing changed.</summary>
    Busy,
    Failed,
}

/// <summary>
/// Mounts and unmounts the server's file system. As root: open /dev/fuse and mount(2) it, type
/// "fuse.xar". Otherwise through fusermount3 (then fusermount), which is setuid root, mounts for
/// us and hands the /dev/fuse descriptor back over a socket (SCM_RIGHTS, the _FUSE_COMMFD protocol),
/// so a user who may not open /dev/fuse can still mount. Always read-only, nosuid, nodev, with the
/// kernel checking permissions from the image's modes (default_permissions).
/// </summary>
public static unsafe class FuseMounter
{
    public const string Subtype = "xar";
    /// <summary>The file system type in /proc/mounts, which tells these mounts from squashfuse's.</summary>
    public const string FileSystemType = "fuse." + Subtype;
    private static ReadOnlySpan<byte> FileSystemTypeBytes => "fuse.xar\0"u8;
    internal static ReadOnlySpan<byte> SubtypeBytes => "xar"u8;

    /// <summary>
    /// Mounts a FUSE file system on <paramref name="mountPoint"/> and returns the /dev/fuse
    /// descriptor (close-on-exec) to serve it on. <paramref name="mountPoint"/> is the path's bytes (without a NUL),
    /// which need not be UTF-8; <paramref name="source"/> is what /proc/mounts shows as the mounted thing.
    /// </summary>
    /// <exception cref="FuseUnavailableException">FUSE cannot mount here; the reason is the message.</exception>
    public static int Mount(byte[] mountPoint, string source, FuseAccess access) => Mount(mountPoint, source, access, early: null);

    /// <summary>As above, with the fusermount the server's pre-runtime step started for the same mount, if it did.</summary>
    internal static int Mount(byte[] mountPoint, string source, FuseAccess access, EarlyFusermount? early)
    {
        if (GetEuid() == 0 && early is null)
            return MountDirectly(mountPoint, source, access);
        return MountWithFusermount(mountPoint, source, access, early);
    }

    private static int MountDirectly(byte[] mountPoint, string source, FuseAccess access)
    {
        int fd = Open("/dev/fuse", O_RDWR | O_CLOEXEC, 0);
        if (fd < 0)
            throw new FuseUnavailableException($"cannot open /dev/fuse: {Describe(LastError)}");
        var data = string.Create(CultureInfo.InvariantCulture,
            $"fd={fd},rootmode=40000,user_id={GetEuid()},group_id={GetEgid()},default_permissions{(access == FuseAccess.Owner ? "" : ",allow_other")}");
        byte[] dataBytes = Encoding.UTF8.GetBytes(data + "\0");
        byte[] sourceBytes = Encoding.UTF8.GetBytes(source + "\0");
        byte[] target = Posix.NativePath.ToCString(mountPoint);
        int result;
        fixed (byte* d = dataBytes)
        fixed (byte* from = sourceBytes)
        fixed (byte* to = target)
        fixed (byte* type = FileSystemTypeBytes)
            result = Posix.LibC.Mount(from, to, type, (nuint)(MS_RDONLY | MS_NOSUID | MS_NODEV), (nint)d);
        if (result != 0)
        {
            int errno = LastError;
            Close(fd);
            throw new FuseUnavailableException($"cannot mount {Posix.NativePath.Display(mountPoint)}: {Describe(errno)}");
        }
        return fd;
    }

    private static int MountWithFusermount(byte[] mountPoint, string source, FuseAccess access, EarlyFusermount? early)
    {
        if (early is null || !early.TryClaim(out var started))
            started = StartFusermount(mountPoint, source, access);
        int device = Fusermount.Finish(started, out string? failure);
        if (device < 0)
            throw new FuseUnavailableException(failure!);
        return device;
    }

    private static StartedFusermount StartFusermount(byte[] mountPoint, string source, FuseAccess access)
    {
        byte* programBuffer = stackalloc byte[Launching.PathBuilder.Capacity];
        var program = new Launching.PathBuilder(programBuffer);
        if (!Fusermount.TryFind(PathVariable(), ref program, out bool isVersion3))
            throw new FuseUnavailableException("neither fusermount3 nor fusermount is installed");
        byte* optionsBuffer = stackalloc byte[Fusermount.OptionsCapacity];
        var options = new Launching.PathBuilder(optionsBuffer, Fusermount.OptionsCapacity);
        if (!Fusermount.TryWriteOptions(ref options, Encoding.UTF8.GetBytes(source), access))
            throw new FuseUnavailableException($"the file system name is too long: {source}");
        int error;
        StartedFusermount started;
        fixed (byte* target = Posix.NativePath.ToCString(mountPoint))
            error = Fusermount.Start(program.CString, isVersion3, options.CString, target, Environ, out started);
        if (error != 0)
            throw new FuseUnavailableException($"cannot run {started.Name}: {Describe(error)}");
        return started;
    }

    /// <summary>$PATH as the process has it now.</summary>
    private static Launching.NativeText PathVariable() => new Launching.ProcessEnvironment(Environ).Get("PATH"u8);

    /// <summary>
    /// Unmounts <paramref name="mountPoint"/> as <see cref="FuseUnmount"/> does, and says how it went.
    /// Not lazy: a mount in use stays and the answer is <see cref="FuseUnmountResult.Busy"/>.
    /// Lazy: detached now, gone when its last user leaves.
    /// </summary>
    public static FuseUnmountResult Unmount(byte[] mountPoint, bool lazy, out string? error)
    {
        const int ErrorsCapacity = 1024;
        byte* errors = stackalloc byte[ErrorsCapacity];
        FuseUnmountOutcome outcome;
        fixed (byte* target = Posix.NativePath.ToCString(mountPoint))
            outcome = FuseUnmount.Run(target, lazy, PathVariable(), Environ, errors, ErrorsCapacity);
        error = null;
        if (outcome.Unmounted)
            return FuseUnmountResult.Unmounted;
        if (outcome.NoHelper)
        {
            error = "neither fusermount3 nor fusermount is installed";
            return FuseUnmountResult.Failed;
        }
        if (outcome.HelperStatus == int.MinValue)
        {
            // umount2 refused (root), or the helper could not be started.
            error = Describe(outcome.Errno);
            return outcome.Errno == EBUSY ? FuseUnmountResult.Busy : FuseUnmountResult.Failed;
        }
        string name = outcome.IsVersion3 ? "fusermount3" : "fusermount";
        string said = Marshal.PtrToStringUTF8((nint)errors)!.Trim().Split('\n')[0].Trim();
        string how = outcome.HelperStatus < 0 ? $"{name} was killed by signal {-outcome.HelperStatus}" : $"{name} exited with status {outcome.HelperStatus}";
        error = said.Length == 0 ? how : $"{how}: {said}";
        return said.Contains("busy", StringComparison.OrdinalIgnoreCase) ? FuseUnmountResult.Busy : FuseUnmountResult.Failed;
    }
}
