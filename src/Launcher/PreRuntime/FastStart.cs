using System.Runtime;
using Xar.Posix;
using Xar.Runtime.Fuse;
using Xar.Runtime.Launching;

namespace Xar.Launcher.PreRuntime;

/// <summary>
/// xarexec's first step, run by the dynamic loader before the .NET runtime starts: it is the executable's
/// DT_INIT (see Xar.Launcher.csproj). It runs the launch core (<see cref="LaunchCore"/>) on the command
/// line; a launch that mounts, reuses a mount or finds its cache entry execs the program from here, and
/// the runtime never starts, which is most of a launch's cost (bench/RESULTS.md, "Launch"). Anything else
/// (an option, an extraction, a failure to put into words) returns, and Main runs the same core again.
/// Like the core, this allocates nothing, throws nothing and calls libc through <see cref="RawLibC"/> only.
/// </summary>
internal static unsafe class FastStart
{
    [RuntimeExport("xarexec_fast_start")]
    private static void Run(int argc, byte** argv, byte** envp)
    {
        if (argc < 1 || argv == null || envp == null)
            return;
        int self = SelfContainedRuntime.Open(out long archiveOffset);
        if (self == SelfContainedRuntime.WithoutProc)
            return; // Main says why
        if (self >= 0)
        {
            RunSelfContained(self, archiveOffset, argc, argv, envp);
            return;
        }
        if (argc < 2 || argv[1] == null)
            return;
        if (argv[1][0] == '-' && argv[1][1] != 0)
        {
            FuseDaemon.DetachBeforeRuntime(argc, argv, envp); // the FUSE server's mode: detach while it is cheap
            return; // an option: Main parses those
        }
        if (!Prepare(envp))
            return;
        LaunchOutcome outcome = default;
        LaunchCore.Run(argv[1], argv + 2, argc - 2, envp, LaunchMode.Run, FuseUnavailability.None, ref outcome);
        Finish(ref outcome);
    }

    /// <summary>A self-contained executable: every argument is the program's; the XAR is read from /proc/self/exe, opened once.</summary>
    private static void RunSelfContained(int self, long archiveOffset, int argc, byte** argv, byte** envp)
    {
        if (argc >= 2 && argv[1] != null && SelfContainedRuntime.IsFuseServer(new ReadOnlySpan<byte>(argv[1], NativeText.FromCString(argv[1]).Length), self))
        {
            RawLibC.Close(self);
            FuseDaemon.DetachBeforeRuntime(argc, argv, envp);
            return;
        }
        SelfContainedRuntime.SetOriginalDirectory();
        if (!Prepare(envp))
        {
            RawLibC.Close(self);
            return;
        }
        byte* path = stackalloc byte[PathBuilder.Capacity];
        if (!SelfContainedRuntime.ProgramPath(self, path, PathBuilder.Capacity))
        {
            RawLibC.Close(self);
            return; // Main says why
        }
        LaunchOutcome outcome = default;
        LaunchCore.RunOpened(self, archiveOffset, path, argv + 1, argc - 1, envp, LaunchMode.Run, FuseUnavailability.None, ref outcome);
        Finish(ref outcome);
    }

    /// <summary>The environment checks before a launch; false: leave it to Main.</summary>
    private static bool Prepare(byte** envp)
    {
        var env = new ProcessEnvironment(envp);
        if (!env.Get("XAREXEC_MOUNT_DID_NOT_APPEAR"u8).IsNull)
        {
            // Only this process may tell its Main that (below); from outside it is dropped, as Main drops it.
            fixed (byte* name = "XAREXEC_MOUNT_DID_NOT_APPEAR\0"u8)
                RawLibC.UnsetEnv(name);
        }
        return !env.Is("XAREXEC_NO_FAST_START"u8, "1"u8); // for measuring what this step saves
    }

    /// <summary>After a launch that returned: its descriptors closed, and a mount that never appeared told to Main.</summary>
    private static void Finish(ref LaunchOutcome outcome)
    {
        if (outcome.XarFd >= 0)
            RawLibC.Close(outcome.XarFd);
        if (outcome.CacheRootFd >= 0)
            RawLibC.Close(outcome.CacheRootFd);
        if (outcome.Status == LaunchStatus.NeedsExtraction && outcome.FuseReason == FuseUnavailability.MountDidNotAppear)
        {
            // Main extracts now rather than wait 9 s again: "PROGRAM PID", the pid proving it was set in this very process.
            byte* value = stackalloc byte[64];
            var text = new PathBuilder(value, 64);
            text.Append(NativeText.FromCString(outcome.DetailPointer()));
            text.Append((byte)' ');
            text.AppendDecimal((ulong)RawLibC.GetPid());
            fixed (byte* name = "XAREXEC_MOUNT_DID_NOT_APPEAR\0"u8)
                RawLibC.SetEnv(name, text.CString, 1);
        }
    }
}
