namespace Xar.Posix;

/// <summary>
/// Gives every user read access to a tree, as chmod -R a+rX: every directory and file readable by all, every
/// directory and every file that someone may execute searchable or executable by all. Walks by descriptor with raw
/// byte names, never following a link (links have no mode of their own). For a front-end's staging tree: what a
/// tool made there under the user's umask (077 makes it private) becomes an image that every user who can read the
/// file can also use through the mount; the file's bytes hide nothing from such a user anyway.
/// </summary>
public static unsafe class TreeReadAccess
{
    private const uint ReadBits = 0x124, ExecuteBits = 0x49; // 0444, 0111

    /// <summary>
    /// a+rX on <paramref name="path"/> and everything under it. For a tree no one else can change while it runs (a
    /// name is stat'ed, then changed; a link is never changed, so its target is not either).
    /// </summary>
    public static void Grant(string path)
    {
        byte[] cpath = NativePath.ToCString(path);
        fixed (byte* p = cpath)
        {
            // The root's mode first, as every directory's before it is opened: one a tool made 0300 could not be listed.
            // Not followed: a link as the root is refused by the open below.
            LibC.Statx root;
            if (LibC.StatxAt(LibC.AT_FDCWD, p, LibC.AT_SYMLINK_NOFOLLOW, LibC.STATX_BASIC_STATS, &root) == 0 && root.IsDirectory
                && Widened(root.Permissions, isDirectory: true) != root.Permissions && LibC.FchmodAt(LibC.AT_FDCWD, p, Widened(root.Permissions, isDirectory: true), 0) != 0)
                throw NativePath.Error("chmod", cpath.AsSpan(0, cpath.Length - 1), LibC.LastError);
            int fd = LibC.OpenAt(LibC.AT_FDCWD, p, LibC.O_RDONLY | LibC.O_DIRECTORY | LibC.O_NOFOLLOW | LibC.O_CLOEXEC, 0);
            if (fd < 0)
                throw NativePath.Error("open", cpath.AsSpan(0, cpath.Length - 1), LibC.LastError);
            GrantContents(fd, cpath.AsSpan(0, cpath.Length - 1).ToArray()); // takes ownership of fd
        }
    }

    /// <summary>The mode a+rX gives: read for all; execute for all on a directory, or on a file that has an execute bit.</summary>
    public static uint Widened(uint permissions, bool isDirectory) =>
        permissions | ReadBits | (isDirectory || (permissions & ExecuteBits) != 0 ? ExecuteBits : 0);

    private static void GrantContents(int fd, byte[] path)
    {
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
                        throw NativePath.Error("stat", NativePath.Join(path, span), LibC.LastError);
                    if (st.IsDirectory)
                        subdirectories.Add(name);
                    if ((st.IsDirectory || st.IsRegularFile) && Widened(st.Permissions, st.IsDirectory) != st.Permissions
                        && LibC.FchmodAt(fd, n, Widened(st.Permissions, st.IsDirectory), 0) != 0)
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
                    GrantContents(child, NativePath.Join(path, name.AsSpan(0, name.Length - 1)));
                }
            }
        }
        finally
        {
            LibC.CloseDir(dir); // closes fd too
        }
    }
}
