using Xar.Posix;
using static Xar.Posix.RawLibC;

namespace Xar.Runtime.Launching;

/// <summary>
/// The launch core's helper programs (squashfuse, fusermount): found on PATH, spawned with signals at
/// their defaults and no descriptor of ours but the one handed over, standard error captured for the
/// message, and waited for. Allocation-free: it runs before the .NET runtime starts, too.
/// </summary>
public static unsafe class HelperProcess
{
    /// <summary>The first <c>DIR/NAME</c> of $PATH that is executable and a regular file, else the fallbacks that are executable.</summary>
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

    /// <summary>What a helper said on standard error (the first part of it) and how it ended.</summary>
    public struct Result
    {
        /// <summary>The exit status, or -signal when a signal ended it; int.MinValue when it could not be started (<see cref="SpawnError"/>).</summary>
        public int Status;
        public int SpawnError;
        public bool Succeeded => Status == 0;
    }

    /// <summary>
    /// Runs <paramref name="program"/> with <paramref name="argv"/> and <paramref name="envp"/>, stdin and stdout on
    /// /dev/null, stderr captured into <paramref name="output"/> (NUL-terminated, the rest dropped), and
    /// <paramref name="passFd"/> (when not -1) as its descriptor 3.
    /// </summary>
    public static Result Run(byte* program, byte** argv, byte** envp, int passFd, byte* output, int outputCapacity)
    {
        var result = new Result { Status = int.MinValue };
        output[0] = 0;
        int* pipe = stackalloc int[2];
        if (Pipe2(pipe, LibC.O_CLOEXEC) != 0)
        {
            result.SpawnError = Errno;
            return result;
        }
        int pid;
        int error = passFd >= 0
            ? Spawn(program, argv, envp, pipe[1], [passFd], newSession: false, out pid)
            : Spawn(program, argv, envp, pipe[1], [], newSession: false, out pid);
        Close(pipe[1]);
        if (error != 0)
        {
            Close(pipe[0]);
            result.SpawnError = error;
            return result;
        }
        // Until the helper and everything it started closed the pipe (a daemon puts /dev/null there first).
        int length = 0;
        byte* discard = stackalloc byte[512];
        while (true)
        {
            bool room = length < outputCapacity - 1;
            nint n = Read(pipe[0], room ? output + length : discard, room ? outputCapacity - 1 - length : 512);
            if (n < 0 && Errno == LibC.EINTR)
                continue;
            if (n <= 0)
                break;
            if (room)
                length += (int)n;
        }
        output[length] = 0;
        Close(pipe[0]);
        int status;
        while (WaitPid(pid, &status, 0) < 0)
        {
            if (Errno != LibC.EINTR)
                return result;
        }
        result.Status = (status & 0x7F) == 0 ? (status >> 8) & 0xFF : -(status & 0x7F);
        return result;
    }

    /// <summary>
    /// posix_spawn of <paramref name="program"/>: stdin and stdout on /dev/null, stderr on <paramref name="stderrFd"/>
    /// (/dev/null when -1), <paramref name="handed"/>[i] as descriptor 3 + i, nothing else inherited, signals at their
    /// defaults and unblocked, in a new session when asked. 0, or the error number.
    /// </summary>
    public static int Spawn(byte* program, byte** argv, byte** envp, int stderrFd, ReadOnlySpan<int> handed, bool newSession, out int pid)
    {
        pid = 0;
        const int MaxHanded = 4;
        if (handed.Length > MaxHanded)
            return LibC.EINVAL;
        // Every source above the targets first, so that no dup2 overwrites another's source; dup2 leaves the copies
        // without close-on-exec (a source already at its target would keep it).
        int* moved = stackalloc int[MaxHanded + 1];
        int count = 0, error = 0;
        for (; count <= handed.Length; count++)
        {
            int source = count < handed.Length ? handed[count] : stderrFd;
            moved[count] = source < 0 ? -1 : Fcntl(source, LibC.F_DUPFD_CLOEXEC, 10);
            if (source >= 0 && moved[count] < 0)
            {
                error = Errno;
                break;
            }
        }
        if (error == 0)
        {
            byte* actions = stackalloc byte[512];
            byte* attributes = stackalloc byte[1024];
            byte* signals = stackalloc byte[256];
            fixed (byte* devNull = "/dev/null\0"u8)
            {
                FileActionsInit(actions);
                FileActionsAddOpen(actions, 0, devNull, LibC.O_RDONLY, 0);
                FileActionsAddOpen(actions, 1, devNull, LibC.O_WRONLY, 0);
                if (stderrFd >= 0)
                    FileActionsAddDup2(actions, moved[handed.Length], 2);
                else
                    FileActionsAddOpen(actions, 2, devNull, LibC.O_WRONLY, 0);
                for (int i = 0; i < handed.Length; i++)
                    FileActionsAddDup2(actions, moved[i], 3 + i);
                FileActionsAddCloseFrom(actions, 3 + handed.Length);
                SpawnAttrInit(attributes);
                SigFillSet(signals);
                SpawnAttrSetSigDefault(attributes, signals);
                SigEmptySet(signals);
                SpawnAttrSetSigMask(attributes, signals);
                SpawnAttrSetFlags(attributes, (short)((newSession ? LibC.POSIX_SPAWN_SETSID : 0) | LibC.POSIX_SPAWN_SETSIGDEF | LibC.POSIX_SPAWN_SETSIGMASK));
                int spawned;
                error = PosixSpawn(&spawned, program, actions, attributes, argv, envp);
                pid = spawned;
                FileActionsDestroy(actions);
                SpawnAttrDestroy(attributes);
            }
        }
        for (int i = 0; i < count && i <= handed.Length; i++)
            if (moved[i] >= 0)
                Close(moved[i]);
        return error;
    }

    public static void SleepMicroseconds(long microseconds)
    {
        long* request = stackalloc long[2];
        request[0] = microseconds / 1_000_000;
        request[1] = microseconds % 1_000_000 * 1000;
        NanoSleep(request, null);
    }
}
