using Xar.Posix;
using Xar.SquashFs.Reading;

namespace Xar.SquashFs.Extraction;

/// <summary>
/// Gives extracted entries the image's owners, xattrs, modes and times, in that order (a chown
/// clears setuid/setgid, and the time goes last because every other change touches it). A
/// directory whose mode would lock its owner out keeps owner rwx until <see cref="RestoreDeferredModes"/>,
/// so the rest of the extraction (and hard links made later) can still pass through it.
/// </summary>
/// <param name="restoreOwners">Owners are restored (asked for, and running as root).</param>
/// <param name="rootPath">The directory extracted into: entries' paths are relative to it.</param>
internal sealed unsafe class AttributeRestorer(SquashFsImage image, bool restoreOwners, bool restoreXattrs, uint euid, uint egid,
    byte[] rootPath, ExtractionWarnings warnings)
{
    /// <summary>Directories whose mode lacks owner rwx, children first: their real mode is set last.</summary>
    private readonly List<(byte[] Path, uint Mode)> _restrictedDirectories = [];

    /// <summary>Through a descriptor: regular files (from any thread) and directories (from the walk only).</summary>
    public void Restore(int fd, Inode inode, SquashFsEntry entry, bool isDirectory, byte[] path)
    {
        if (restoreOwners && (entry.Uid != euid || entry.Gid != egid) && LibC.Fchown(fd, entry.Uid, entry.Gid) != 0)
            throw NativePath.Error("set the owner of", path, LibC.LastError);
        if (restoreXattrs && inode.HasXattrs)
            foreach (var x in image.GetXattrs(entry))
                fixed (byte* n = NativePath.ToCString(x.NameBytes))
                fixed (byte* v = x.Value)
                    if (LibC.Fsetxattr(fd, n, v, (nuint)x.Value.Length, 0) != 0)
                        XattrFailed(x, path, LibC.LastError);
        uint mode = Mode(inode);
        if (isDirectory && path.Length > 0 && (mode & 0x1C0) != 0x1C0)
        {
            _restrictedDirectories.Add((path, mode));
            mode |= 0x1C0;
        }
        if (LibC.Fchmod(fd, mode) != 0)
            throw NativePath.Error("set the mode of", path, LibC.LastError);
        var times = stackalloc LibC.Timespec[2];
        times[0].Seconds = times[1].Seconds = inode.Mtime;
        if (LibC.Futimens(fd, times) != 0)
            throw NativePath.Error("set the time of", path, LibC.LastError);
    }

    /// <summary>The same for symlinks and special files, by name in their directory, never following a link.</summary>
    public void RestoreAt(int dirFd, byte[] cname, Inode inode, SquashFsEntry entry, byte[] path, bool isSymlink)
    {
        fixed (byte* n = cname)
        {
            if (restoreOwners && (entry.Uid != euid || entry.Gid != egid) && LibC.FchownAt(dirFd, n, entry.Uid, entry.Gid, LibC.AT_SYMLINK_NOFOLLOW) != 0)
                throw NativePath.Error("set the owner of", path, LibC.LastError);
            if (restoreXattrs && inode.HasXattrs)
            {
                // No fd-relative lsetxattr exists; every directory on this path is one we created.
                using var full = LongPath.For(NativePath.Join(rootPath, path));
                fixed (byte* f = full.CString)
                    foreach (var x in image.GetXattrs(entry))
                        fixed (byte* xn = NativePath.ToCString(x.NameBytes))
                        fixed (byte* v = x.Value)
                            if (LibC.Lsetxattr(f, xn, v, (nuint)x.Value.Length, 0) != 0)
                                XattrFailed(x, path, LibC.LastError);
            }
            if (!isSymlink && LibC.FchmodAt(dirFd, n, Mode(inode), 0) != 0)
                throw NativePath.Error("set the mode of", path, LibC.LastError);
            var times = stackalloc LibC.Timespec[2];
            times[0].Seconds = times[1].Seconds = inode.Mtime;
            if (LibC.UtimensAt(dirFd, n, times, LibC.AT_SYMLINK_NOFOLLOW) != 0)
                throw NativePath.Error("set the time of", path, LibC.LastError);
        }
    }

    /// <summary>The real modes of the directories that kept owner rwx (children before parents), once nothing more is created in them.</summary>
    public void RestoreDeferredModes(int rootFd)
    {
        foreach (var (path, mode) in _restrictedDirectories)
            fixed (byte* p = NativePath.ToCString(path))
                if (LibC.FchmodAt(rootFd, p, mode, 0) != 0)
                    throw NativePath.Error("set the mode of", path, LibC.LastError);
    }

    // As unsquashfs: setuid/setgid only when the owner is restored too (as root); sticky always.
    private uint Mode(Inode inode) => restoreOwners ? inode.Permissions & 0xFFFu : inode.Permissions & 0x3FFu;

    private void XattrFailed(SquashFsXattr x, byte[] path, int errno)
    {
        if (errno is LibC.EPERM or LibC.ENOTSUP or LibC.EACCES)
        {
            warnings.Warn("xattr:" + x.Name, $"{NativePath.Display(path)}: xattr {x.Name} not restored: {LibC.Describe(errno)}");
            return;
        }
        throw NativePath.Error($"set xattr {x.Name} on", path, errno);
    }
}
