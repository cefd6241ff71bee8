using Xar.Posix;
using static Xar.Posix.LibC;

namespace Xar.Runtime;

/// <summary>Unmounting XAR mounts: by the XAR file or by the directory, under the mount's lock.</summary>
public static class XarUnmounter
{
    /// <summary>The mount directory of a XAR file (in this user's and namespace's place), mounted or not.</summary>
    public static string MountPathOf(byte[] xarPath) =>
        Launching.XarLauncher.Launch(xarPath, [], Launching.LaunchMode.Locate, _ => { });

    /// <summary>
    /// Unmounts the XAR's FUSE mount at <paramref name="mountPath"/> holding its lock (when it has one),
    /// then removes the empty mount directory and the lock file. Not lazy unless asked: a mount in
    /// use stays, and the error says so.
    /// </summary>
    public static void Unmount(string mountPath, bool lazy)
    {
        mountPath = NativePath.FullPath(mountPath).TrimEnd('/');
        var entry = MountTable.Find(mountPath);
        if (entry is null)
        {
            if (FuseMount.Probe(mountPath) == FuseMountState.Broken)
                entry = new MountEntry("", mountPath, "fuse");
            else
                throw new XarLaunchException($"{LosslessUtf8.Display(mountPath)} is not mounted");
        }
        if (!entry.Value.FileSystemType.StartsWith("fuse", StringComparison.Ordinal))
            throw new XarLaunchException($"{LosslessUtf8.Display(mountPath)} is a {entry.Value.FileSystemType} mount, not a XAR (FUSE) mount");
        string lockPath = Path.GetDirectoryName(mountPath) + "/" + XarMountLayout.LockFilePrefix + Path.GetFileName(mountPath);
        XarLockFile? lockFile = PosixPath.TryLstat(lockPath) is null ? null : XarLockFile.Acquire(lockPath, exclusive: true);
        try
        {
            string? error = FuseMount.TryUnmount(mountPath, lazy);
            if (error is not null)
                throw new XarLaunchException($"cannot unmount {LosslessUtf8.Display(mountPath)}: {error}{(lazy ? "" : " (in use? --lazy detaches it now and unmounts when the last user is done)")}");
            Rmdir(mountPath); // best effort: it may hold other things
            if (lockFile is not null)
                Unlink(lockPath);
        }
        finally
        {
            lockFile?.Dispose();
        }
    }
}
