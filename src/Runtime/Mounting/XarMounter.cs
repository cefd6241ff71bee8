using Xar.Runtime;
using static Xar.Posix.LibC;

namespace Xar.Runtime;

/// <summary>
/// A XAR mounted (or found mounted) at its mount directory, with the mount's lock held: as long as
/// this is not disposed, gc will not unmount it. The launcher keeps the lock until it holds a file
/// of the mount open and execs (the lock descriptor is close-on-exec).
/// </summary>
public sealed class XarMountSession : IDisposable
{
    internal XarMountSession(XarMountLocation location, XarLockFile lockFile, bool isNewMount)
    {
        Location = location;
        Lock = lockFile;
        IsNewMount = isNewMount;
    }

    public XarMountLocation Location { get; }

    public string MountPath => Location.MountPath;

    /// <summary>True when this call mounted the image (then the launcher sets XARFUSE_NEW_MOUNT=1).</summary>
    public bool IsNewMount { get; }

    public XarLockFile Lock { get; }

    /// <summary>Undoes a mount this session made (a failed start must leave no mount behind).</summary>
    public void UnmountIfNew()
    {
        if (IsNewMount)
            FuseMount.TryUnmount(MountPath, lazy: true);
    }

    public void Dispose() => Lock.Dispose();
}

// Repeated allocation-free by xarexec's pre-runtime fast start (src/Launcher/PreRuntime/FastStart.cs).
public static class XarMounter
{
    public const uint MountDirectoryMode = 0x1ED; // 0755

    /// <summary>
    /// Mounts <paramref name="xarPath"/> at its place, or reuses the live mount there, under the mount's
    /// lock (steps 2-4 of the launcher). A broken mount (its squashfuse died) is lazily unmounted and
    /// mounted again. FuseUnavailableException when FUSE cannot serve: the caller extracts instead.
    /// </summary>
    public static XarMountSession MountOrReuse(string xarPath, XarHeader header, XarMountLocation location)
    {
        int timeout = FuseMount.TimeoutSeconds;
        PosixPath.EnsureOwnedDirectory(location.UserDirectory, XarMountLayout.UserDirectoryMode);
        var lockFile = XarLockFile.Acquire(location.LockPath, exclusive: true);
        try
        {
            string mountPath = location.MountPath;
            if (Mkdir(mountPath, (int)MountDirectoryMode) == 0)
                Chmod(mountPath, (int)MountDirectoryMode); // whatever the umask; checked below
            else if (LastError != EEXIST)
                throw new XarLaunchException($"cannot create mount directory {mountPath}: {Describe(LastError)}");
            var state = FuseMount.Probe(mountPath);
            if (state == FuseMountState.Broken)
            {
                FuseMount.Unmount(mountPath, lazy: true);
                state = FuseMount.Probe(mountPath);
                if (state != FuseMountState.NotMounted)
                    throw new XarLaunchException($"the broken mount at {mountPath} is still there after unmounting it");
            }
            bool isNew = false;
            if (state == FuseMountState.NotMounted)
            {
                // Checked only now: once mounted, the directory shows the image root's owner and mode.
                PosixPath.CheckOwned(mountPath, PosixPath.TryLstat(mountPath), expectDirectory: true, MountDirectoryMode);
                FuseMount.Mount(xarPath, header.Offset, mountPath, timeout);
                isNew = true;
            }
            lockFile.Touch();
            return new XarMountSession(location, lockFile, isNew);
        }
        catch
        {
            lockFile.Dispose();
            throw;
        }
    }
}
