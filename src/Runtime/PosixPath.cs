using Xar.Posix;
using static Xar.Posix.LibC;

namespace Xar.Runtime;

/// <summary>What lstat/fstat say about a path: just the fields the runtime's safety checks need.</summary>
public readonly record struct PosixFileStatus(uint Mode, uint Uid, uint Gid, ulong Inode, long ModifiedSeconds)
{
    public uint Permissions => Mode & 0xFFF;
    public bool IsDirectory => (Mode & S_IFMT) == S_IFDIR;
    public bool IsRegularFile => (Mode & S_IFMT) == S_IFREG;
    public bool IsSymbolicLink => (Mode & S_IFMT) == S_IFLNK;
}

/// <summary>
/// The owner/mode checks of every directory and lock file the runtime uses, so another user can
/// never plant a mount point, a lock or a cache entry for us to trust (Facebook's check_file_sanity,
/// with lstat so a symlink is never followed).
/// </summary>
public static class PosixPath
{
    public static uint EffectiveUserId => GetEuid();

    /// <summary>lstat; null when the path does not exist, XarLaunchException for any other failure.</summary>
    public static PosixFileStatus? TryLstat(string path)
    {
        if (StatxAt(AT_FDCWD, path, AT_SYMLINK_NOFOLLOW, STATX_BASIC_STATS, out var st) == 0)
            return ToStatus(st);
        int errno = LastError;
        if (errno is ENOENT or ENOTDIR)
            return null;
        throw new XarLaunchException($"cannot stat {LosslessUtf8.Display(path)}: {Describe(errno)}");
    }

    /// <summary>stat, following symlinks (for a mount root such as /dev/shm, which may be a link).</summary>
    public static PosixFileStatus? TryStat(string path)
    {
        if (StatxAt(AT_FDCWD, path, 0, STATX_BASIC_STATS, out var st) == 0)
            return ToStatus(st);
        int errno = LastError;
        if (errno is ENOENT or ENOTDIR)
            return null;
        throw new XarLaunchException($"cannot stat {LosslessUtf8.Display(path)}: {Describe(errno)}");
    }

    public static PosixFileStatus FStat(int fd, string pathForMessages)
    {
        if (FStatx(fd, out var st) != 0)
            throw new XarLaunchException($"cannot stat {pathForMessages}: {Describe(LastError)}");
        return ToStatus(st);
    }

    internal static PosixFileStatus ToStatus(in Statx st) =>
        new(st.Mode, st.Uid, st.Gid, st.Ino, st.Mtime.Seconds);

    /// <summary>
    /// Fails unless the status is a directory (or regular file) owned by us, in one of our groups, with exactly
    /// <paramref name="mode"/>: the launch core's rule (<see cref="Launching.TrustedDirectory.OwnedProblem"/>), in its words.
    /// </summary>
    public static void CheckOwned(string path, PosixFileStatus? status, bool expectDirectory, uint mode)
    {
        if (status is not { } st)
            throw new XarLaunchException($"{path} does not exist");
        string? problem = Launching.TrustedDirectory.OwnedProblem(st.Mode, st.Uid, st.Gid, expectDirectory, mode) switch
        {
            Launching.LaunchProblem.None => null,
            Launching.LaunchProblem.NotADirectory => $"{path} should be a directory{(st.IsSymbolicLink ? ", not a symbolic link" : "")}",
            Launching.LaunchProblem.NotARegularFile => $"{path} should be a regular file{(st.IsSymbolicLink ? ", not a symbolic link" : "")}",
            Launching.LaunchProblem.WrongOwner => $"{path} is owned by uid {st.Uid}, not by uid {GetEuid()}",
            Launching.LaunchProblem.WrongGroup => $"{path} belongs to group {st.Gid}, which is not one of ours",
            _ => $"{path} has mode {Convert.ToString(st.Permissions, 8).PadLeft(4, '0')}, expected {Convert.ToString(mode, 8).PadLeft(4, '0')}",
        };
        if (problem is not null)
            throw new XarLaunchException(problem);
    }
}
