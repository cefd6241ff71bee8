using System.Runtime.InteropServices;
using System.Text;
using static Xar.Posix.LibC;
using Xar.Posix;

namespace Xar.Runtime;

/// <summary>
/// Runs a helper (fusermount3, fusermount) with posix_spawn and waits for it: stdin/stdout on
/// /dev/null, stderr captured, no descriptor of ours leaked into it (a daemonizing helper would
/// otherwise hold our caller's pipes open for its whole life), signals back to their defaults.
/// Lighter than System.Diagnostics.Process, which matters on the launcher's start-up path.
/// </summary>
internal static unsafe class ChildProcess
{
    public readonly record struct Result(int ExitCode, int Signal, string StandardError)
    {
        public bool Succeeded => ExitCode == 0 && Signal == 0;

        public string Describe(string program)
        {
            string what = Signal != 0 ? $"{program} was killed by signal {Signal}" : $"{program} exited with status {ExitCode}";
            string firstLine = StandardError.Trim().Split('\n')[0].Trim();
            return firstLine.Length == 0 ? what : $"{what}: {firstLine}";
        }
    }

    public static Result Run(string executable, params ReadOnlySpan<string> arguments) => Run(executable, RawArguments.Utf8(arguments));

    /// <summary>The arguments as bytes (a path that is not UTF-8 passes unchanged).</summary>
    public static Result Run(string executable, IReadOnlyList<byte[]> arguments)
    {
        int* pipe = stackalloc int[2];
        if (Pipe2(pipe, O_CLOEXEC) != 0)
            throw new XarLaunchException($"cannot create a pipe: {Describe(LastError)}");
        int readEnd = pipe[0], writeEnd = pipe[1];
        byte* actions = stackalloc byte[512];
        byte* attributes = stackalloc byte[1024];
        byte* signals = stackalloc byte[256];
        int pid;
        using var argv = new NativeArgv(executable, [Encoding.UTF8.GetBytes(executable), .. arguments]);
        try
        {
            FileActionsInit(actions);
            FileActionsAddOpen(actions, 0, "/dev/null", O_RDONLY, 0);
            FileActionsAddOpen(actions, 1, "/dev/null", O_WRONLY, 0);
            FileActionsAddDup2(actions, writeEnd, 2);
            FileActionsAddCloseFrom(actions, 3);
            SpawnAttrInit(attributes);
            SigFillSet(signals);
            SpawnAttrSetSigDefault(attributes, signals);
            SigEmptySet(signals);
            SpawnAttrSetSigMask(attributes, signals);
            SpawnAttrSetFlags(attributes, POSIX_SPAWN_SETSIGDEF | POSIX_SPAWN_SETSIGMASK);
            int error = PosixSpawn(out pid, argv.Path, actions, attributes, argv.Argv, Environ);
            FileActionsDestroy(actions);
            SpawnAttrDestroy(attributes);
            if (error != 0)
                throw new XarLaunchException($"cannot run {executable}: {LibC.Describe(error)}");
        }
        finally
        {
            Close(writeEnd);
        }

        int status;
        while (WaitPid(pid, out status, 0) < 0)
        {
            if (LastError != EINTR)
            {
                Close(readEnd);
                throw new XarLaunchException($"cannot wait for {executable}: {Describe(LastError)}");
            }
        }
        // Read what is there without waiting: a daemon child may still hold the pipe open.
        Fcntl(readEnd, 4 /* F_SETFL */, O_NONBLOCK);
        byte* buffer = stackalloc byte[4096];
        int total = 0;
        while (total < 4096)
        {
            nint n = Read(readEnd, buffer + total, 4096 - total);
            if (n <= 0)
                break;
            total += (int)n;
        }
        Close(readEnd);
        string stderr = Encoding.UTF8.GetString(buffer, total);
        int signal = status & 0x7f;
        int exitCode = signal == 0 ? (status >> 8) & 0xff : 128 + signal;
        return new Result(exitCode, signal, stderr);
    }

    /// <summary>The first executable named <paramref name="name"/> in $PATH (then <paramref name="fallbackDirectories"/>), or null.</summary>
    public static string? FindOnPath(string name, params ReadOnlySpan<string> fallbackDirectories)
    {
        string? path = Environment.GetEnvironmentVariable("PATH");
        if (path is not null)
            foreach (var range in path.AsSpan().Split(':'))
            {
                var dir = path.AsSpan()[range];
                if (dir.IsEmpty)
                    continue;
                string candidate = string.Concat(dir, "/", name);
                if (Access(candidate, 1 /* X_OK */) == 0 && PosixPath.TryStat(candidate) is { IsRegularFile: true })
                    return candidate;
            }
        foreach (string dir in fallbackDirectories)
        {
            string candidate = dir + "/" + name;
            if (Access(candidate, 1) == 0)
                return candidate;
        }
        return null;
    }
}
