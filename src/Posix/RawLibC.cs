using System.Runtime.InteropServices;

namespace Xar.Posix;

/// <summary>
/// The variants of <see cref="LibC"/>'s calls for code that runs before the .NET runtime starts (the
/// launch core): bound at link time (DirectPInvoke), blittable arguments only, no GC transition and no
/// last-error marshalling (both need the runtime); errno is read through <c>__errno_location</c>.
/// Constants and structs are <see cref="LibC"/>'s.
/// </summary>
public static unsafe partial class RawLibC
{
    private const string Libc = LibC.Library;

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
    public static partial int StatxAt(int dirFd, byte* path, int flags, uint mask, LibC.Statx* buffer);

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

    [LibraryImport(Libc, EntryPoint = "fork"), SuppressGCTransition]
    public static partial int Fork();

    [LibraryImport(Libc, EntryPoint = "dup2"), SuppressGCTransition]
    public static partial int Dup2(int fd, int newFd);

    [LibraryImport(Libc, EntryPoint = "setsid"), SuppressGCTransition]
    public static partial int SetSid();

    [LibraryImport(Libc, EntryPoint = "getsid"), SuppressGCTransition]
    public static partial int GetSid(int pid);

    [LibraryImport(Libc, EntryPoint = "_exit"), SuppressGCTransition]
    public static partial void Exit(int status);

    [LibraryImport(Libc, EntryPoint = "poll"), SuppressGCTransition]
    public static partial int Poll(LibC.PollFd* fds, nuint count, int timeoutMilliseconds);

    [LibraryImport(Libc, EntryPoint = "kill"), SuppressGCTransition]
    public static partial int Kill(int pid, int signal);

    [LibraryImport(Libc, EntryPoint = "clock_gettime"), SuppressGCTransition]
    public static partial int ClockGetTime(int clock, long* time);

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

    [LibraryImport(Libc, EntryPoint = "sigaddset"), SuppressGCTransition]
    public static partial int SigAddSet(void* set, int signal);

    /// <summary>The calling thread's signal mask (threads started later inherit it); returns the error, not -1.</summary>
    [LibraryImport(Libc, EntryPoint = "pthread_sigmask"), SuppressGCTransition]
    public static partial int PthreadSigMask(int how, void* set, void* oldSet);

    [LibraryImport(Libc, EntryPoint = "posix_spawn"), SuppressGCTransition]
    public static partial int PosixSpawn(int* pid, byte* path, void* fileActions, void* attr, byte** argv, byte** envp);

    [LibraryImport(Libc, EntryPoint = "openat"), SuppressGCTransition]
    public static partial int OpenAt(int dirFd, byte* path, int flags, int mode);

    [LibraryImport(Libc, EntryPoint = "pread64"), SuppressGCTransition]
    public static partial nint Pread(int fd, byte* buffer, nint count, long offset);

    [LibraryImport(Libc, EntryPoint = "write"), SuppressGCTransition]
    public static partial nint Write(int fd, byte* buffer, nint count);

    [LibraryImport(Libc, EntryPoint = "mkdirat"), SuppressGCTransition]
    public static partial int MkdirAt(int dirFd, byte* path, int mode);

    [LibraryImport(Libc, EntryPoint = "unlinkat"), SuppressGCTransition]
    public static partial int UnlinkAt(int dirFd, byte* path, int flags);

    [LibraryImport(Libc, EntryPoint = "fchmodat"), SuppressGCTransition]
    public static partial int FchmodAt(int dirFd, byte* path, int mode, int flags);

    [LibraryImport(Libc, EntryPoint = "fstatfs"), SuppressGCTransition]
    public static partial int FStatFs(int fd, long* buffer);

    [LibraryImport(Libc, EntryPoint = "fstatvfs"), SuppressGCTransition]
    public static partial int FStatVfs(int fd, ulong* buffer);

    /// <summary>getauxval(3): AT_EXECFN (31) is the name the program was exec'd by.</summary>
    [LibraryImport(Libc, EntryPoint = "getauxval"), SuppressGCTransition]
    public static partial nuint GetAuxVal(nuint type);

    public const nuint AT_EXECFN = 31;

    [LibraryImport(Libc, EntryPoint = "readlink"), SuppressGCTransition]
    public static partial nint ReadLink(byte* path, byte* buffer, nint size);

    [LibraryImport(Libc, EntryPoint = "pipe2"), SuppressGCTransition]
    public static partial int Pipe2(int* fds, int flags);

    [LibraryImport(Libc, EntryPoint = "socketpair"), SuppressGCTransition]
    public static partial int SocketPair(int domain, int type, int protocol, int* fds);

    [LibraryImport(Libc, EntryPoint = "posix_spawn_file_actions_adddup2"), SuppressGCTransition]
    public static partial int FileActionsAddDup2(void* actions, int fd, int newFd);

    [LibraryImport(Libc, EntryPoint = "pwrite64"), SuppressGCTransition]
    public static partial nint Pwrite(int fd, byte* buffer, nint count, long offset);

    [LibraryImport(Libc, EntryPoint = "ftruncate64"), SuppressGCTransition]
    public static partial int Ftruncate(int fd, long length);

    /// <summary>Directory entries (linux_dirent64) of an open directory, for listing without the runtime.</summary>
    [LibraryImport(Libc, EntryPoint = "getdents64"), SuppressGCTransition]
    public static partial nint GetDents64(int fd, byte* buffer, nint count);
}
