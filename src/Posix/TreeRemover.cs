using Xar.Posix;

namespace Xar.Posix;

/// <summary>
/// Removes a tree: a half-made extraction, a stale temporary tree, a collected cache entry. Works on raw byte names (they need not be UTF-8) relative to
/// directory descriptors, never follows a symlink, and makes directories writable on the way down.
/// </summary>
public static unsafe class TreeRemover
{
    /// <summary>Deletes <paramref name="path"/> (a file, a link, or a whole tree); IOException when some of it stays.</summary>
    public static void Delete(string path)
    {
        if (LibC.StatxAt(LibC.AT_FDCWD, path, LibC.AT_SYMLINK_NOFOLLOW, LibC.STATX_BASIC_STATS, out var st) != 0)
            return;
        if (!st.IsDirectory)
        {
            File.Delete(path);
            return;
        }
        Remove(path);
        if (LibC.StatxAt(LibC.AT_FDCWD, path, LibC.AT_SYMLINK_NOFOLLOW, LibC.STATX_BASIC_STATS, out _) == 0)
            throw new IOException($"cannot delete {path} completely");
    }

    /// <summary>Removes the directory <paramref name="path"/> and everything in it, as far as it can.</summary>
    public static void Remove(string path)
    {
        byte[] cpath = NativePath.ToCString(path);
        fixed (byte* p = cpath)
        {
            int fd = LibC.OpenAt(LibC.AT_FDCWD, p, LibC.O_RDONLY | LibC.O_DIRECTORY | LibC.O_NOFOLLOW | LibC.O_CLOEXEC, 0);
            if (fd < 0)
                return;
            LibC.Fchmod(fd, 0x1C0);
            RemoveContents(fd, 0); // takes ownership of fd
            LibC.UnlinkAt(LibC.AT_FDCWD, p, LibC.AT_REMOVEDIR);
        }
    }

    private static void RemoveContents(int fd, int depth)
    {
        nint dir = LibC.FdOpenDir(fd);
        if (dir == 0)
        {
            LibC.Close(fd);
            return;
        }
        try
        {
            var names = new List<(byte[] Name, bool IsDir)>();
            byte* ent;
            while ((ent = LibC.ReadDir(dir)) != null)
            {
                byte* name = (byte*)ent + LibC.DirentNameOffset;
                var span = new ReadOnlySpan<byte>(name, 256);
                int len = span.IndexOf((byte)0);
                span = span[..len];
                if (span.SequenceEqual("."u8) || span.SequenceEqual(".."u8))
                    continue;
                names.Add((NativePath.ToCString(span), *((byte*)ent + LibC.DirentTypeOffset) == LibC.DT_DIR));
            }
            foreach (var (name, isDir) in names)
            {
                fixed (byte* n = name)
                {
                    if (LibC.UnlinkAt(fd, n, 0) == 0)
                        continue;
                    if (depth > 2000)
                        continue;
                    int child = LibC.OpenAt(fd, n, LibC.O_RDONLY | LibC.O_DIRECTORY | LibC.O_NOFOLLOW | LibC.O_CLOEXEC, 0);
                    if (child < 0)
                    {
                        LibC.FchmodAt(fd, n, 0x1C0, 0);
                        child = LibC.OpenAt(fd, n, LibC.O_RDONLY | LibC.O_DIRECTORY | LibC.O_NOFOLLOW | LibC.O_CLOEXEC, 0);
                        if (child < 0)
                            continue;
                    }
                    LibC.Fchmod(child, 0x1C0);
                    RemoveContents(child, depth + 1);
                    LibC.UnlinkAt(fd, n, LibC.AT_REMOVEDIR);
                }
            }
        }
        finally
        {
            LibC.CloseDir(dir); // closes fd too
        }
    }
}
