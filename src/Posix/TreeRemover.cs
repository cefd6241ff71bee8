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

/// <summary>
/// Takes the write bits off every directory and file of a tree (symbolic links have none), walking by
/// descriptor with raw byte names and never following a link: a complete cache entry is what the image
/// holds, and the program it runs must not change it (a Python writing .pyc files, say).
/// </summary>
public static unsafe class TreeWriteProtection
{
    private const uint WriteBits = 0x92; // 0222

    public static void Apply(string path)
    {
        byte[] cpath = NativePath.ToCString(path);
        fixed (byte* p = cpath)
        {
            int fd = LibC.OpenAt(LibC.AT_FDCWD, p, LibC.O_RDONLY | LibC.O_DIRECTORY | LibC.O_NOFOLLOW | LibC.O_CLOEXEC, 0);
            if (fd < 0)
                throw NativePath.Error("open", cpath.AsSpan(0, cpath.Length - 1), LibC.LastError);
            ProtectContents(fd, cpath.AsSpan(0, cpath.Length - 1).ToArray()); // takes ownership of fd
        }
    }

    private static void ProtectContents(int fd, byte[] path)
    {
        if (LibC.FStatx(fd, out var self) == 0)
            LibC.Fchmod(fd, self.Permissions & ~WriteBits);
        nint dir = LibC.FdOpenDir(fd);
        if (dir == 0)
        {
            int errno = LibC.LastError;
            LibC.Close(fd);
            throw NativePath.Error("read directory", path, errno);
        }
        try
        {
            var subdirectories = new List<byte[]>();
            byte* ent;
            while ((ent = LibC.ReadDir(dir)) != null)
            {
                var span = new ReadOnlySpan<byte>((byte*)ent + LibC.DirentNameOffset, 256);
                span = span[..span.IndexOf((byte)0)];
                if (span.SequenceEqual("."u8) || span.SequenceEqual(".."u8))
                    continue;
                byte[] name = NativePath.ToCString(span);
                fixed (byte* n = name)
                {
                    LibC.Statx st;
                    if (LibC.StatxAt(fd, n, LibC.AT_SYMLINK_NOFOLLOW, LibC.STATX_BASIC_STATS, &st) != 0)
                        continue;
                    if (st.IsDirectory)
                        subdirectories.Add(name);
                    else if (st.IsRegularFile && (st.Permissions & WriteBits) != 0 && LibC.FchmodAt(fd, n, st.Permissions & ~WriteBits, 0) != 0)
                        throw NativePath.Error("chmod", NativePath.Join(path, span), LibC.LastError);
                }
            }
            foreach (byte[] name in subdirectories)
            {
                fixed (byte* n = name)
                {
                    int child = LibC.OpenAt(fd, n, LibC.O_RDONLY | LibC.O_DIRECTORY | LibC.O_NOFOLLOW | LibC.O_CLOEXEC, 0);
                    if (child < 0)
                        throw NativePath.Error("open", NativePath.Join(path, name.AsSpan(0, name.Length - 1)), LibC.LastError);
                    ProtectContents(child, NativePath.Join(path, name.AsSpan(0, name.Length - 1)));
                }
            }
        }
        finally
        {
            LibC.CloseDir(dir); // closes fd too
        }
    }
}
