using Xar.Posix;
using static Xar.Posix.LibC;

namespace Xar.Runtime;

public enum FuseMountState
{
    NotMounted,
    Mounted,
    /// <summary>A FUSE mount whose daemon is gone (ENOTCONN / ECONNABORTED): unmount it, then mount again.</summary>
    Broken,
}

/// <summary>FUSE mounts of XAR images as xar unmount and gc see them: probe and unmount (the launch core mounts).</summary>
public static class FuseMount
{
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
        throw new XarLaunchException($"cannot statfs {LosslessUtf8.Display(path)}: {Describe(errno)}");
    }

    /// <summary>Unmounts (lazily: detached now, gone when the last user closes). Throws with the cause on failure.</summary>
    public static void Unmount(string mountPath, bool lazy)
    {
        string? error = TryUnmount(mountPath, lazy);
        if (error is not null)
            throw new XarLaunchException($"cannot unmount {LosslessUtf8.Display(mountPath)}: {error}");
    }

    /// <summary>Null on success, else why not (<see cref="Fuse.FuseMounter.Unmount"/>).</summary>
    public static string? TryUnmount(string mountPath, bool lazy) =>
        Fuse.FuseMounter.Unmount(LosslessUtf8.Encode(mountPath), lazy, out string? error) == Fuse.FuseUnmountResult.Unmounted ? null : error;
}
