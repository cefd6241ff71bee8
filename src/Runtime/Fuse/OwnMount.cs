using static Xar.Posix.LibC;

namespace Xar.Runtime.Fuse;

/// <summary>
/// The mount a server made, told apart from any other at the same path: the device number and the mount's id,
/// from a statx of the mount point that asks the file system nothing (so it works before INIT too), taken right
/// after mounting, while nothing else can have been mounted there since. Both, because a device number is reused
/// at once when a mount goes away (the next FUSE mount gets the same 0:N), and the mount id is unique (Linux 6.8+;
/// an older kernel's id is reused too, only less soon). An unmount (idle, signal, a failed start) then touches
/// this mount and no other, even one made after ours was taken away.
/// </summary>
public sealed unsafe class OwnMount
{
    /// <summary>The mount point's bytes, NUL-terminated: a path need not be UTF-8.</summary>
    private readonly byte[] _path;
    private ulong _mountId;

    /// <summary>Records the mount now on <paramref name="mountPoint"/> (an absolute path's bytes, without a NUL).</summary>
    public OwnMount(byte[] mountPoint)
    {
        _path = Posix.NativePath.ToCString(mountPoint);
        Record();
    }

    /// <summary>The device number of the mounted file system (st_dev of the mount point), from right after the mount.</summary>
    public (uint Major, uint Minor)? Device { get; private set; }

    /// <summary>Records the mount, unless that is done: a second try when the first statx failed.</summary>
    public void Record()
    {
        if (Device is null && StatMountPoint(out var st))
        {
            Device = (st.DevMajor, st.DevMinor);
            _mountId = MountIdOf(st);
        }
    }

    /// <summary>True when the mount point shows the recorded mount (not another one mounted over or in place of it).</summary>
    public bool IsMountedHere()
    {
        if (Device is not { } device || !StatMountPoint(out var st))
            return false;
        return (st.DevMajor, st.DevMinor) == device && MountIdOf(st) == _mountId;
    }

    /// <summary>Unmounts, unless the mount point no longer shows the recorded mount (then: Failed, nothing touched).</summary>
    public FuseUnmountResult Unmount(bool lazy, out string? error)
    {
        Record();
        if (Device is not null && !IsMountedHere())
        {
            error = "the mount point no longer shows this server's file system";
            return FuseUnmountResult.Failed;
        }
        return FuseMounter.Unmount(_path[..^1], lazy, out error);
    }

    /// <summary>The mount's id, when the kernel gave one (0 otherwise: then the device number alone decides).</summary>
    private static ulong MountIdOf(in Statx st) => (st.Mask & (STATX_MNT_ID | STATX_MNT_ID_UNIQUE)) != 0 ? st.MountId : 0;

    private bool StatMountPoint(out Statx st)
    {
        fixed (byte* path = _path)
        fixed (Statx* buffer = &st)
            return StatxAt(AT_FDCWD, path, AT_SYMLINK_NOFOLLOW | AT_STATX_DONT_SYNC, STATX_BASIC_STATS | STATX_MNT_ID_UNIQUE, buffer) == 0;
    }
}
