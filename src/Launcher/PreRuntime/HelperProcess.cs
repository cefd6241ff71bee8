using Xar.Posix;
using static Xar.Posix.RawLibC;

namespace Xar.Launcher.PreRuntime;

/// <summary>
/// squashfuse and fusermount for the fast start, as ChildProcess runs them for the full launcher:
/// found on PATH, spawned with signals at their defaults, no descriptor of ours, and waited for.
/// Standard streams go to /dev/null: on any failure the fast start gives up and the full launcher
/// runs the helper again, capturing what it says for its message.
/// </summary>
internal static unsafe class HelperProcess
{
    /// <summary>ChildProcess.FindOnPath: the first <c>DIR/NAME</c> of $PATH that is executable and a regular file, else the fallbacks that are executable.</summary>
    public static bool TryFind(NativeText pathVariable, ReadOnlySpan<byte> name, ref PathBuilder found, bool systemFallbacks)
    {
        if (!pathVariable.IsNull)
        {
            int start = 0;
            while (start <= pathVariable.Length)
            {
                int colon = pathVariable.IndexOf((byte)':', start);
                int end = colon < 0 ? pathVariable.Length : colon;
                if (end > start)
                {
                    found.Truncate(0);
                    found.Append(pathVariable.Slice(start, end - start));
                    found.Append((byte)'/');
                    found.Append(name);
                    LibC.Statx st;
                    if (found.Fits && Access(found.CString, LibC.X_OK) == 0
                        && StatxAt(LibC.AT_FDCWD, found.CString, 0, LibC.STATX_BASIC_STATS, &st) == 0 && st.IsRegularFile)
                        return true;
                }
                if (colon < 0)
                    break;
                start = colon + 1;
            }
        }
        if (systemFallbacks)
        {
            for (int i = 0; i < 4; i++)
            {
                found.Truncate(0);
                found.Append(i switch { 0 => "/usr/bin/"u8, 1 => "/bin/"u8, 2 => "/usr/sbin/"u8, _ => "/sbin/"u8 });
                found.Append(name);
                if (found.Fits && Access(found.CString, LibC.X_OK) == 0)
                    return true;
            }
        }
        return false;
    }

    /// <summary>Runs <paramref name="program"/> with <paramref name="argv"/> and the environment <paramref name="envp"/>; true when it exited 0.</summary>
    public static bool RunAndSucceed(byte* program, byte** argv, byte** envp)
    {
        byte* actions = stackalloc byte[512];
        byte* attributes = stackalloc byte[1024];
        byte* signals = stackalloc byte[256];
        int pid;
        int error;
        fixed (byte* devNull = "/dev/null\0"u8)
        {
            FileActionsInit(actions);
            FileActionsAddOpen(actions, 0, devNull, LibC.O_RDONLY, 0);
            FileActionsAddOpen(actions, 1, devNull, LibC.O_WRONLY, 0);
            FileActionsAddOpen(actions, 2, devNull, LibC.O_WRONLY, 0);
            FileActionsAddCloseFrom(actions, 3);
            SpawnAttrInit(attributes);
            SigFillSet(signals);
            SpawnAttrSetSigDefault(attributes, signals);
            SigEmptySet(signals);
            SpawnAttrSetSigMask(attributes, signals);
            SpawnAttrSetFlags(attributes, LibC.POSIX_SPAWN_SETSIGDEF | LibC.POSIX_SPAWN_SETSIGMASK);
            error = PosixSpawn(&pid, program, actions, attributes, argv, envp);
            FileActionsDestroy(actions);
            SpawnAttrDestroy(attributes);
        }
        if (error != 0)
            return false;
        int status;
        while (WaitPid(pid, &status, 0) < 0)
            if (Errno != LibC.EINTR)
                return false;
        return status == 0; // exited, status 0
    }

    /// <summary>FuseMount.TryUnmount(lazy): umount2 as root, else <c>fusermount3 -u -z -q</c> (or fusermount).</summary>
    public static bool TryUnmountLazily(byte* mountPath, NativeText pathVariable, byte** envp)
    {
        if (GetEuid() == 0)
        {
            if (Umount2(mountPath, LibC.MNT_DETACH | LibC.UMOUNT_NOFOLLOW) == 0)
                return true;
            if (Errno != LibC.EPERM)
                return false;
        }
        byte* buffer = stackalloc byte[PathBuilder.Capacity];
        var fusermount = new PathBuilder(buffer);
        if (!TryFind(pathVariable, "fusermount3"u8, ref fusermount, systemFallbacks: true)
            && !TryFind(pathVariable, "fusermount"u8, ref fusermount, systemFallbacks: true))
            return false;
        byte** argv = stackalloc byte*[6];
        fixed (byte* u = "-u\0"u8)
        fixed (byte* z = "-z\0"u8)
        fixed (byte* q = "-q\0"u8)
        {
            argv[0] = fusermount.CString;
            argv[1] = u;
            argv[2] = z;
            argv[3] = q;
            argv[4] = mountPath;
            argv[5] = null;
            return RunAndSucceed(fusermount.CString, argv, envp);
        }
    }

    public static void SleepMicroseconds(long microseconds)
    {
        long* request = stackalloc long[2];
        request[0] = microseconds / 1_000_000;
        request[1] = microseconds % 1_000_000 * 1000;
        NanoSleep(request, null);
    }
}
