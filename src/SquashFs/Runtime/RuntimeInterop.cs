using System.Runtime.InteropServices;

namespace Xar.SquashFs.Runtime;

/// <summary>
/// The libc calls the XAR runtime needs (mounting, locking, spawning squashfuse). Source-generated
/// P/Invoke, so the AOT launcher links it without reflection. A class of its own so it never collides
/// with the format code's LibC partials.
/// </summary>
internal static unsafe partial class RuntimeInterop
{
    private const string Libc = "libc";

    public const int O_RDONLY = 0, O_WRONLY = 1, O_RDWR = 2, O_CREAT = 0x40, O_EXCL = 0x80, O_NOCTTY = 0x100,
        O_NONBLOCK = 0x800, O_DIRECTORY = 0x10000, O_NOFOLLOW = 0x20000, O_CLOEXEC = 0x80000;
    public const int LOCK_SH = 1, LOCK_EX = 2, LOCK_NB = 4, LOCK_UN = 8;
    public const int F_GETFD = 1, F_SETFD = 2, FD_CLOEXEC = 1;
    public const int MNT_DETACH = 2, UMOUNT_NOFOLLOW = 8;
    public const int AT_FDCWD = -100, AT_SYMLINK_NOFOLLOW = 0x100, AT_STATX_SYNC_AS_STAT = 0;
    public const uint STATX_BASIC_STATS = 0x7ff;
    public const int ENOENT = 2, EINTR = 4, EAGAIN = 11, EWOULDBLOCK = 11, EACCES = 13, EBUSY = 16, EEXIST = 17,
        ENOTDIR = 20, EINVAL = 22, EROFS = 30, ENOTCONN = 107, ECONNABORTED = 103, ENOTEMPTY = 39, EPERM = 1;
    public const int WNOHANG = 1;
    public const long FUSE_SUPER_MAGIC = 0x65735546;
    public const ulong ST_NOEXEC = 8, ST_RDONLY = 1;
    public const uint S_IFMT = 0xF000, S_IFDIR = 0x4000, S_IFREG = 0x8000, S_IFLNK = 0xA000;

    /// <summary>struct statx: one layout on every Linux architecture, unlike struct stat.</summary>
    [StructLayout(LayoutKind.Sequential)]
    public struct Statx
    {
        public uint Mask;
        public uint BlockSize;
        public ulong Attributes;
        public uint LinkCount;
        public uint Uid;
        public uint Gid;
        public ushort Mode;
        private ushort _pad1;
        public ulong Inode;
        public ulong Size;
        public ulong Blocks;
        public ulong AttributesMask;
        public StatxTimestamp AccessTime, BirthTime, ChangeTime, ModificationTime;
        public uint RdevMajor, RdevMinor, DevMajor, DevMinor;
        private fixed ulong _spare[14];
    }

    [StructLayout(LayoutKind.Sequential)]
    public struct StatxTimestamp
    {
        public long Seconds;
        public uint Nanoseconds;
        private int _reserved;
    }

    [StructLayout(LayoutKind.Sequential)]
    public struct TimeSpec
    {
        public long Seconds;
        public long Nanoseconds;
    }

    [LibraryImport(Libc, EntryPoint = "open", StringMarshalling = StringMarshalling.Utf8, SetLastError = true)]
    public static partial int Open(string path, int flags, int mode);

    [LibraryImport(Libc, EntryPoint = "close", SetLastError = true)]
    public static partial int Close(int fd);

    [LibraryImport(Libc, EntryPoint = "read", SetLastError = true)]
    public static partial nint Read(int fd, byte* buffer, nint count);

    [LibraryImport(Libc, EntryPoint = "flock", SetLastError = true)]
    public static partial int Flock(int fd, int operation);

    [LibraryImport(Libc, EntryPoint = "fcntl", SetLastError = true)]
    public static partial int Fcntl(int fd, int command, int argument);

    [LibraryImport(Libc, EntryPoint = "statx", StringMarshalling = StringMarshalling.Utf8, SetLastError = true)]
    public static partial int StatxPath(int dirFd, string path, int flags, uint mask, out Statx buffer);

    [LibraryImport(Libc, EntryPoint = "statx", SetLastError = true)]
    private static partial int StatxFd(int dirFd, byte* emptyPath, int flags, uint mask, out Statx buffer);

    private const int AT_EMPTY_PATH = 0x1000;

    public static int FStatx(int fd, out Statx buffer)
    {
        byte empty = 0;
        return StatxFd(fd, &empty, AT_EMPTY_PATH, STATX_BASIC_STATS, out buffer);
    }

    /// <summary>statfs into a buffer big enough for any architecture's struct; f_type is the first word.</summary>
    [LibraryImport(Libc, EntryPoint = "statfs", StringMarshalling = StringMarshalling.Utf8, SetLastError = true)]
    public static partial int StatFs(string path, byte* buffer);

    /// <summary>statvfs, for f_flag (ST_NOEXEC): f_flag sits at word 9 of struct statvfs on 64-bit Linux.</summary>
    [LibraryImport(Libc, EntryPoint = "statvfs", StringMarshalling = StringMarshalling.Utf8, SetLastError = true)]
    public static partial int StatVfs(string path, byte* buffer);

    [LibraryImport(Libc, EntryPoint = "mkdir", StringMarshalling = StringMarshalling.Utf8, SetLastError = true)]
    public static partial int Mkdir(string path, int mode);

    [LibraryImport(Libc, EntryPoint = "chmod", StringMarshalling = StringMarshalling.Utf8, SetLastError = true)]
    public static partial int Chmod(string path, int mode);

    [LibraryImport(Libc, EntryPoint = "rmdir", StringMarshalling = StringMarshalling.Utf8, SetLastError = true)]
    public static partial int Rmdir(string path);

    [LibraryImport(Libc, EntryPoint = "rename", StringMarshalling = StringMarshalling.Utf8, SetLastError = true)]
    public static partial int Rename(string from, string to);

    [LibraryImport(Libc, EntryPoint = "unlink", StringMarshalling = StringMarshalling.Utf8, SetLastError = true)]
    public static partial int Unlink(string path);

    [LibraryImport(Libc, EntryPoint = "futimens", SetLastError = true)]
    public static partial int Futimens(int fd, TimeSpec* times);

    [LibraryImport(Libc, EntryPoint = "geteuid")]
    public static partial uint GetEuid();

    [LibraryImport(Libc, EntryPoint = "getegid")]
    public static partial uint GetEgid();

    [LibraryImport(Libc, EntryPoint = "getgroups", SetLastError = true)]
    public static partial int GetGroups(int size, uint* list);

    [LibraryImport(Libc, EntryPoint = "umount2", StringMarshalling = StringMarshalling.Utf8, SetLastError = true)]
    public static partial int Umount2(string target, int flags);

    [LibraryImport(Libc, EntryPoint = "mount", StringMarshalling = StringMarshalling.Utf8, SetLastError = true)]
    public static partial int Mount(string source, string target, string fileSystemType, nuint flags, nint data);

    [LibraryImport(Libc, EntryPoint = "access", StringMarshalling = StringMarshalling.Utf8, SetLastError = true)]
    public static partial int Access(string path, int mode);

    [LibraryImport(Libc, EntryPoint = "pipe2", SetLastError = true)]
    public static partial int Pipe2(int* fds, int flags);

    [LibraryImport(Libc, EntryPoint = "waitpid", SetLastError = true)]
    public static partial int WaitPid(int pid, out int status, int options);

    [LibraryImport(Libc, EntryPoint = "kill", SetLastError = true)]
    public static partial int Kill(int pid, int signal);

    [LibraryImport(Libc, EntryPoint = "posix_spawn_file_actions_init")]
    public static partial int FileActionsInit(void* actions);

    [LibraryImport(Libc, EntryPoint = "posix_spawn_file_actions_destroy")]
    public static partial int FileActionsDestroy(void* actions);

    [LibraryImport(Libc, EntryPoint = "posix_spawn_file_actions_adddup2")]
    public static partial int FileActionsAddDup2(void* actions, int fd, int newFd);

    [LibraryImport(Libc, EntryPoint = "posix_spawn_file_actions_addopen", StringMarshalling = StringMarshalling.Utf8)]
    public static partial int FileActionsAddOpen(void* actions, int fd, string path, int flags, int mode);

    [LibraryImport(Libc, EntryPoint = "posix_spawn_file_actions_addclosefrom_np")]
    public static partial int FileActionsAddCloseFrom(void* actions, int lowFd);

    [LibraryImport(Libc, EntryPoint = "posix_spawnattr_init")]
    public static partial int SpawnAttrInit(void* attr);

    [LibraryImport(Libc, EntryPoint = "posix_spawnattr_destroy")]
    public static partial int SpawnAttrDestroy(void* attr);

    [LibraryImport(Libc, EntryPoint = "posix_spawnattr_setflags")]
    public static partial int SpawnAttrSetFlags(void* attr, short flags);

    [LibraryImport(Libc, EntryPoint = "posix_spawnattr_setsigdefault")]
    public static partial int SpawnAttrSetSigDefault(void* attr, void* sigset);

    [LibraryImport(Libc, EntryPoint = "posix_spawnattr_setsigmask")]
    public static partial int SpawnAttrSetSigMask(void* attr, void* sigset);

    [LibraryImport(Libc, EntryPoint = "sigemptyset")]
    public static partial int SigEmptySet(void* set);

    [LibraryImport(Libc, EntryPoint = "sigfillset")]
    public static partial int SigFillSet(void* set);

    public const short POSIX_SPAWN_SETSIGDEF = 0x04, POSIX_SPAWN_SETSIGMASK = 0x08;

    [LibraryImport(Libc, EntryPoint = "posix_spawn", SetLastError = false)]
    public static partial int PosixSpawn(out int pid, byte* path, void* fileActions, void* attr, byte** argv, byte** envp);

    [LibraryImport(Libc, EntryPoint = "nanosleep")]
    public static partial int NanoSleep(TimeSpec* request, TimeSpec* remaining);

    public static int LastError => Marshal.GetLastPInvokeError();

    public static string Describe(int errno) => Marshal.GetPInvokeErrorMessage(errno);

    /// <summary>The process's live environment (libc's <c>environ</c>), which posix_spawn hands on unchanged.</summary>
    public static byte** Environ
    {
        get
        {
            if (!NativeLibrary.TryLoad("libc.so.6", out var libc) || !NativeLibrary.TryGetExport(libc, "environ", out var address))
                throw new PlatformNotSupportedException("libc's environ not found");
            return *(byte***)address;
        }
    }

    public static void SleepMicroseconds(long microseconds)
    {
        var ts = new TimeSpec { Seconds = microseconds / 1_000_000, Nanoseconds = microseconds % 1_000_000 * 1000 };
        NanoSleep(&ts, null);
    }
}
