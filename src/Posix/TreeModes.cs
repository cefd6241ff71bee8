namespace Xar.Posix;

/// <summary>
/// Sets the permissions of every directory and regular file of a tree, the root included, to what a rule gives for
/// their current ones (symbolic links have none of their own and are never followed). Walks by descriptor with raw
/// byte names; a directory's mode is set before it is opened, so a rule that opens it up can then list it. For trees
/// no one else can change meanwhile (an entry is stat'ed, then changed by name in its directory's descriptor).
/// </summary>
public static unsafe class TreeModes
{
    /// <param name="rule">The new permissions from the current ones and whether the entry is a directory.</param>
    /// <exception cref="IOException">An entry could not be read or changed (naming it).</exception>
    public static void Apply(string path, Func<uint, bool, uint> rule)
    {
        byte[] cpath = NativePath.ToCString(path);
        fixed (byte* p = cpath)
        {
            // Not followed: a link as the root is refused by the open below.
            LibC.Statx root;
            if (LibC.StatxAt(LibC.AT_FDCWD, p, LibC.AT_SYMLINK_NOFOLLOW, LibC.STATX_BASIC_STATS, &root) == 0 && root.IsDirectory)
                Change(LibC.AT_FDCWD, p, root, rule, cpath.AsSpan(0, cpath.Length - 1));
            int fd = LibC.OpenAt(LibC.AT_FDCWD, p, LibC.O_RDONLY | LibC.O_DIRECTORY | LibC.O_NOFOLLOW | LibC.O_CLOEXEC, 0);
            if (fd < 0)
                throw NativePath.Error("open", cpath.AsSpan(0, cpath.Length - 1), LibC.LastError);
            ApplyToContents(fd, cpath.AsSpan(0, cpath.Length - 1).ToArray(), rule); // takes ownership of fd
        }
    }

    private static void Change(int dirFd, byte* name, in LibC.Statx st, Func<uint, bool, uint> rule, ReadOnlySpan<byte> shown)
    {
        uint mode = rule(st.Permissions, st.IsDirectory);
        if (mode != st.Permissions && LibC.FchmodAt(dirFd, name, mode, 0) != 0)
            throw NativePath.Error("chmod", shown, LibC.LastError);
    }

    private static void ApplyToContents(int fd, byte[] path, Func<uint, bool, uint> rule)
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
                    if (st.IsDirectory || st.IsRegularFile)
                        Change(fd, n, st, rule, NativePath.Join(path, span));
                }
            }
            foreach (byte[] name in subdirectories)
            {
                fixed (byte* n = name)
                {
                    int child = LibC.OpenAt(fd, n, LibC.O_RDONLY | LibC.O_DIRECTORY | LibC.O_NOFOLLOW | LibC.O_CLOEXEC, 0);
                    if (child < 0)
                        throw NativePath.Error("open", NativePath.Join(path, name.AsSpan(0, name.Length - 1)), LibC.LastError);
                    ApplyToContents(child, NativePath.Join(path, name.AsSpan(0, name.Length - 1)), rule);
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
/// Takes the write bits off every directory and file of a tree (<see cref="TreeModes"/>): a complete cache entry is
/// what the image holds, and the program it runs must not change it (a Python writing .pyc files, say).
/// </summary>
public static class TreeWriteProtection
{
    private const uint WriteBits = 0x92; // 0222

    public static void Apply(string path) => TreeModes.Apply(path, (permissions, _) => permissions & ~WriteBits);
}

/// <summary>
/// Gives every user read access to a tree, as chmod -R a+rX (<see cref="TreeModes"/>): every directory and file
/// readable by all, every directory and every file that someone may execute searchable or executable by all. For a
/// front-end's staging tree: what a tool made there under the user's umask (077 makes it private) becomes an image
/// that every user who can read the file can also use through the mount; the file's bytes hide nothing from such a
/// user anyway.
/// </summary>
public static class TreeReadAccess
{
    private const uint ReadBits = 0x124, ExecuteBits = 0x49; // 0444, 0111

    public static void Grant(string path) => TreeModes.Apply(path, Widened);

    /// <summary>The mode a+rX gives: read for all; execute for all on a directory, or on a file that has an execute bit.</summary>
    public static uint Widened(uint permissions, bool isDirectory) =>
        permissions | ReadBits | (isDirectory || (permissions & ExecuteBits) != 0 ? ExecuteBits : 0);
}
