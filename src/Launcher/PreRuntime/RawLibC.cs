using System.Runtime.InteropServices;

namespace Xar.Launcher.PreRuntime;

/// <summary>
/// libc for code that runs before the .NET runtime: bound at link time (DirectPInvoke), blittable
/// arguments only, no GC transition and no last-error marshalling (both need the runtime); errno is
/// read through <c>__errno_location</c>. x86-64 Linux constants, as in the rest of the project.
/// </summary>
internal static unsafe partial class RawLibC
{
    private const string Libc = "libc";

    public const int O_RDONLY = 0, O_WRONLY = 1, O_RDWR = 2, O_CREAT = 0x40, O_NOCTTY = 0x100, O_NONBLOCK = 0x800, O_NOFOLLOW = 0x20000, O_CLOEXEC = 0x80000;
    public const int AT_FDCWD = -100, AT_SYMLINK_NOFOLLOW = 0x100, AT_EMPTY_PATH = 0x1000;
    public const uint STATX_BASIC_STATS = 0x7ff;
    public const int EPERM = 1, ENOENT = 2, EINTR = 4, EEXIST = 17, ENOTDIR = 20;
    public const int LOCK_SH = 1, LOCK_EX = 2;
    public const int F_DUPFD = 0, F_GETFD = 1, F_SETFD = 2, FD_CLOEXEC = 1;
    public const int X_OK = 1, W_OK = 2;
    public const int MNT_DETACH = 2, UMOUNT_NOFOLLOW = 8;
    public const short POSIX_SPAWN_SETSIGDEF = 0x04, POSIX_SPAWN_SETSIGMASK = 0x08;
    public const int SIGPIPE = 13;
    public const long FUSE_SUPER_MAGIC = 0x65735546;
    public const uint S_IFMT = 0xF000, S_IFDIR = 0x4000, S_IFREG = 0x8000;

    /// <summary>The fields of struct statx the checks need; the kernel fills all 256 bytes.</summary>
    [StructLayout(LayoutKind.Explicit, Size = 256)]
    public struct Statx
    {
        [FieldOffset(20)] public uint Uid;
        [FieldOffset(24)] public uint Gid;
        [FieldOffset(28)] public ushort Mode;
        [FieldOffset(32)] public ulong Inode;

        public readonly uint Permissions => Mode & 0xFFFu;
        public readonly bool IsDirectory => (Mode & S_IFMT) == S_IFDIR;
        public readonly bool IsRegularFile => (Mode & S_IFMT) == S_IFREG;
    }

    public static int Errno => *ErrnoLocation();

    [LibraryImport(Libc, EntryPoint = "__errno_location"), SuppressGCTransition]
    private static partial int* ErrnoLocation();

    [LibraryImport(Libc, EntryPoint = "open"), SuppressGCTransition]
    public static partial int Open(byte* path, int flags, int mode);

    [LibraryImport(Libc, EntryPoint = "close"), SuppressGCTransition]
    public static partial int Close(int fd);

    [LibraryImport(Libc, EntryPoint = "read"), SuppressGCTransition]
    public static partial nint Read(int fd, byte* buffer, nint count);

    [LibraryImport(Libc, EntryPoint = "statx"), SuppressGCTransition]
    public static partial int StatxAt(int dirFd, byte* path, int flags, uint mask, Statx* buffer);

    [LibraryImport(Libc, EntryPoint = "statfs"), SuppressGCTransition]
    public static partial int StatFs(byte* path, long* buffer);

    [LibraryImport(Libc, EntryPoint = "flock"), SuppressGCTransition]
    public static partial int Flock(int fd, int operation);

    [LibraryImport(Libc, EntryPoint = "futimens"), SuppressGCTransition]
    public static partial int Futimens(int fd, void* times);

    [LibraryImport(Libc, EntryPoint = "fcntl"), SuppressGCTransition]
    public static partial int Fcntl(int fd, int command, int argument);

    [LibraryImport(Libc, EntryPoint = "access"), SuppressGCTransition]
    public static partial int Access(byte* path, int mode);

    [LibraryImport(Libc, EntryPoint = "geteuid"), SuppressGCTransition]
    public static partial uint GetEuid();

    [LibraryImport(Libc, EntryPoint = "getegid"), SuppressGCTransition]
    public static partial uint GetEgid();

    [LibraryImport(Libc, EntryPoint = "getgroups"), SuppressGCTransition]
    public static partial int GetGroups(int size, uint* list);

    [LibraryImport(Libc, EntryPoint = "unsetenv"), SuppressGCTransition]
    public static partial int UnsetEnv(byte* name);

    [LibraryImport(Libc, EntryPoint = "signal"), SuppressGCTransition]
    public static partial nint Signal(int signal, nint handler);

    [LibraryImport(Libc, EntryPoint = "execv"), SuppressGCTransition]
    public static partial int Execv(byte* path, byte** argv);

    [LibraryImport(Libc, EntryPoint = "malloc"), SuppressGCTransition]
    public static partial void* Malloc(nuint size);

    [LibraryImport(Libc, EntryPoint = "free"), SuppressGCTransition]
    public static partial void Free(void* pointer);

    [LibraryImport(Libc, EntryPoint = "mkdir"), SuppressGCTransition]
    public static partial int Mkdir(byte* path, int mode);

    [LibraryImport(Libc, EntryPoint = "chmod"), SuppressGCTransition]
    public static partial int Chmod(byte* path, int mode);

    [LibraryImport(Libc, EntryPoint = "umask"), SuppressGCTransition]
    public static partial uint Umask(uint mask);

    [LibraryImport(Libc, EntryPoint = "setenv"), SuppressGCTransition]
    public static partial int SetEnv(byte* name, byte* value, int overwrite);

    [LibraryImport(Libc, EntryPoint = "getpid"), SuppressGCTransition]
    public static partial int GetPid();

    [LibraryImport(Libc, EntryPoint = "getcwd"), SuppressGCTransition]
    public static partial byte* GetCwd(byte* buffer, nuint size);

    [LibraryImport(Libc, EntryPoint = "umount2"), SuppressGCTransition]
    public static partial int Umount2(byte* target, int flags);

    [LibraryImport(Libc, EntryPoint = "waitpid"), SuppressGCTransition]
    public static partial int WaitPid(int pid, int* status, int options);

    [LibraryImport(Libc, EntryPoint = "nanosleep"), SuppressGCTransition]
    public static partial int NanoSleep(long* request, long* remaining);

    [LibraryImport(Libc, EntryPoint = "posix_spawn_file_actions_init"), SuppressGCTransition]
    public static partial int FileActionsInit(void* actions);

    [LibraryImport(Libc, EntryPoint = "posix_spawn_file_actions_destroy"), SuppressGCTransition]
    public static partial int FileActionsDestroy(void* actions);

    [LibraryImport(Libc, EntryPoint = "posix_spawn_file_actions_addopen"), SuppressGCTransition]
    public static partial int FileActionsAddOpen(void* actions, int fd, byte* path, int flags, int mode);

    [LibraryImport(Libc, EntryPoint = "posix_spawn_file_actions_addclosefrom_np"), SuppressGCTransition]
    public static partial int FileActionsAddCloseFrom(void* actions, int lowFd);

    [LibraryImport(Libc, EntryPoint = "posix_spawnattr_init"), SuppressGCTransition]
    public static partial int SpawnAttrInit(void* attr);

    [LibraryImport(Libc, EntryPoint = "posix_spawnattr_destroy"), SuppressGCTransition]
    public static partial int SpawnAttrDestroy(void* attr);

    [LibraryImport(Libc, EntryPoint = "posix_spawnattr_setflags"), SuppressGCTransition]
    public static partial int SpawnAttrSetFlags(void* attr, short flags);

    [LibraryImport(Libc, EntryPoint = "posix_spawnattr_setsigdefault"), SuppressGCTransition]
    public static partial int SpawnAttrSetSigDefault(void* attr, void* sigset);

    [LibraryImport(Libc, EntryPoint = "posix_spawnattr_setsigmask"), SuppressGCTransition]
    public static partial int SpawnAttrSetSigMask(void* attr, void* sigset);

    [LibraryImport(Libc, EntryPoint = "sigemptyset"), SuppressGCTransition]
    public static partial int SigEmptySet(void* set);

    [LibraryImport(Libc, EntryPoint = "sigfillset"), SuppressGCTransition]
    public static partial int SigFillSet(void* set);

    [LibraryImport(Libc, EntryPoint = "posix_spawn"), SuppressGCTransition]
    public static partial int PosixSpawn(int* pid, byte* path, void* fileActions, void* attr, byte** argv, byte** envp);
}
