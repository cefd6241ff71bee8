using Xar.Posix;
using Xar.Runtime.Launching;

namespace Xar.Runtime.Fuse;

/// <summary>How an unmount by <see cref="FuseUnmount.Run"/> went.</summary>
public struct FuseUnmountOutcome
{
    public bool Unmounted;

    /// <summary>umount2's error number (root), or the error that kept fusermount from starting; 0 when neither applies.</summary>
    public int Errno;

    /// <summary>fusermount's exit status, or -signal; int.MinValue when it did not run.</summary>
    public int HelperStatus;

    /// <summary>Neither fusermount3 nor fusermount was found.</summary>
    public bool NoHelper;

    /// <summary>Whether the helper was fusermount3 (else fusermount): for messages.</summary>
    public bool IsVersion3;
}

/// <summary>
/// Unmounting a FUSE mount, the one way every part of xar does it: umount2 with UMOUNT_NOFOLLOW as root (and, when
/// that is refused with EPERM, as in a user namespace, fusermount), otherwise <c>fusermount3 -u</c> (or fusermount),
/// with <c>-z</c> when lazy. Allocation-free: the launch core runs it before the .NET runtime starts, and
/// <see cref="FuseMounter.Unmount"/> puts its outcome into words.
/// </summary>
public static unsafe class FuseUnmount
{
    /// <summary>
    /// Unmounts <paramref name="mountPath"/> (NUL-terminated). fusermount's standard error goes to <paramref name="errors"/>
    /// (NUL-terminated, the rest dropped); with no buffer it is asked to be quiet (<c>-q</c>).
    /// </summary>
    public static FuseUnmountOutcome Run(byte* mountPath, bool lazy, NativeText pathVariable, byte** envp, byte* errors, int errorsCapacity)
    {
        var outcome = new FuseUnmountOutcome { HelperStatus = int.MinValue };
        if (errors != null)
            errors[0] = 0;
        if (RawLibC.GetEuid() == 0)
        {
            if (RawLibC.Umount2(mountPath, (lazy ? LibC.MNT_DETACH : 0) | LibC.UMOUNT_NOFOLLOW) == 0)
            {
                outcome.Unmounted = true;
                return outcome;
            }
            outcome.Errno = RawLibC.Errno;
            if (outcome.Errno != LibC.EPERM)
                return outcome;
        }
        byte* buffer = stackalloc byte[PathBuilder.Capacity];
        var fusermount = new PathBuilder(buffer);
        if (!Fusermount.TryFind(pathVariable, ref fusermount, out outcome.IsVersion3))
        {
            outcome.NoHelper = true;
            return outcome;
        }
        byte** argv = stackalloc byte*[7];
        fixed (byte* u = "-u\0"u8)
        fixed (byte* z = "-z\0"u8)
        fixed (byte* q = "-q\0"u8)
        fixed (byte* endOfOptions = "--\0"u8)
        {
            int n = 0;
            argv[n++] = fusermount.CString;
            argv[n++] = u;
            if (lazy)
                argv[n++] = z;
            if (errors == null)
                argv[n++] = q;
            argv[n++] = endOfOptions;
            argv[n++] = mountPath;
            argv[n] = null;
            byte* discarded = stackalloc byte[256];
            var result = errors != null
                ? HelperProcess.Run(fusermount.CString, argv, envp, -1, errors, errorsCapacity)
                : HelperProcess.Run(fusermount.CString, argv, envp, -1, discarded, 256);
            outcome.Errno = result.SpawnError;
            outcome.HelperStatus = result.Status;
            outcome.Unmounted = result.Succeeded;
        }
        return outcome;
    }

    /// <summary>Unmounts lazily, quietly: true when it is gone.</summary>
    public static bool Lazily(byte* mountPath, NativeText pathVariable, byte** envp) =>
        Run(mountPath, lazy: true, pathVariable, envp, null, 0).Unmounted;
}
