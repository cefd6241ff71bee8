using static Xar.Posix.LibC;
using Xar.Posix;

namespace Xar.Runtime;

/// <summary>
/// A lock file (<c>lockfile.NAME</c>) held with flock. Created 0600 and checked (a regular file of
/// ours, mode 0600, never through a symlink) before it is trusted. Its mtime is the "last used" time
/// that gc reads. Close-on-exec: the launch core itself hands the cache lock on to the program.
/// </summary>
public sealed class XarLockFile : IDisposable
{
    public const uint Mode = 0x180; // 0600
    private int _fd;

    private XarLockFile(int fd, string path)
    {
        _fd = fd;
        Path = path;
    }

    public string Path { get; }

    public int FileDescriptor => _fd;

    /// <summary>Opens (creating when missing) and checks the lock file, without locking it yet.</summary>
    public static XarLockFile Open(string path, bool create = true)
    {
        int flags = O_RDWR | O_CLOEXEC | O_NOFOLLOW | O_NOCTTY | O_NONBLOCK | (create ? O_CREAT : 0);
        int fd;
        do
            fd = LibC.Open(path, flags, (int)Mode);
        while (fd < 0 && LastError == EINTR);
        if (fd < 0)
        {
            int errno = LastError;
            if (!create && errno == ENOENT)
                throw new FileNotFoundException($"no lock file {path}", path);
            throw new XarLaunchException($"cannot open lock file {path}: {Describe(errno)}");
        }
        var lockFile = new XarLockFile(fd, path);
        try
        {
            PosixPath.CheckOwned(path, PosixPath.FStat(fd, path), expectDirectory: false, Mode);
        }
        catch
        {
            lockFile.Dispose();
            throw;
        }
        return lockFile;
    }

    /// <summary>
    /// Opens and locks <paramref name="path"/>, retrying when the file was replaced or removed while we
    /// waited (gc deletes lock files it holds): the lock we return is on the file now at the path.
    /// <paramref name="waiting"/> runs once, before the first wait, when someone else holds the lock.
    /// </summary>
    public static XarLockFile Acquire(string path, bool exclusive, Action? waiting = null)
    {
        for (int attempt = 0; ; attempt++)
        {
            var lockFile = Open(path);
            try
            {
                int operation = exclusive ? LOCK_EX : LOCK_SH;
                if (!lockFile.TryLock(operation))
                {
                    waiting?.Invoke();
                    waiting = null;
                    lockFile.Lock(operation);
                }
                if (PosixPath.TryLstat(path) is { } now && now.Inode == PosixPath.FStat(lockFile._fd, path).Inode)
                    return lockFile;
                if (attempt >= 100)
                    throw new XarLaunchException($"lock file {path} keeps being replaced");
            }
            catch
            {
                lockFile.Dispose();
                throw;
            }
            lockFile.Dispose();
        }
    }

    public void LockExclusive() => Lock(LOCK_EX);

    public bool TryLockExclusive() => TryLock(LOCK_EX);

    private void Lock(int operation)
    {
        while (Flock(_fd, operation) != 0)
        {
            int errno = LastError;
            if (errno != EINTR)
                throw new XarLaunchException($"cannot lock {Path}: {Describe(errno)}");
        }
    }

    private bool TryLock(int operation)
    {
        while (Flock(_fd, operation | LOCK_NB) != 0)
        {
            int errno = LastError;
            if (errno == EWOULDBLOCK)
                return false;
            if (errno != EINTR)
                throw new XarLaunchException($"cannot lock {Path}: {Describe(errno)}");
        }
        return true;
    }

    /// <summary>Sets the mtime to now: "last used", which gc compares with its idle limit.</summary>
    public unsafe void Touch()
    {
        if (Futimens(_fd, null) != 0)
            throw new XarLaunchException($"cannot touch {Path}: {Describe(LastError)}");
    }

    /// <summary>The XAR file the mount or entry was made from, as the launcher wrote it into the lock file; null when unknown.</summary>
    public unsafe string? RecordedXarFile()
    {
        byte* buffer = stackalloc byte[4097];
        nint n = Pread(_fd, buffer, 4097, 0);
        if (n <= 1)
            return null;
        var text = new ReadOnlySpan<byte>(buffer, (int)n);
        int newline = text.IndexOf((byte)'\n');
        return newline > 0 ? System.Text.Encoding.UTF8.GetString(text[..newline]) : null;
    }

    /// <summary>The image hash the record holds (<see cref="Launching.CacheEntryRecord"/>), null when it has none.</summary>
    public unsafe string? RecordedImageHash()
    {
        const int Capacity = Launching.CacheEntryRecord.ReadCapacity;
        byte* buffer = stackalloc byte[Capacity];
        nint n = Pread(_fd, buffer, Capacity, 0);
        if (n <= 0)
            return null;
        foreach (string line in System.Text.Encoding.UTF8.GetString(buffer, (int)n).Split('\n'))
            if (line.StartsWith("image ", StringComparison.Ordinal))
                return line[6..];
        return null;
    }

    public long LastUsedSeconds => PosixPath.FStat(_fd, Path).ModifiedSeconds;

    public void Dispose()
    {
        int fd = Interlocked.Exchange(ref _fd, -1);
        if (fd >= 0)
            Close(fd);
    }
}
