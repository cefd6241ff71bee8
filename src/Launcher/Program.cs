using Xar.Runtime.Fuse;
using Xar.Runtime.Launching;

namespace Xar.Launcher;

/// <summary>
/// <c>xarexec [-m | -n | -h] XARFILE [ARGS...]</c>: the interpreter named by a XAR's shebang line.
/// Mounts the image with the built-in FUSE server (or squashfuse, XAR_FUSE=squashfuse; or extracts it once into a cache where FUSE cannot serve) and
/// execs <c>/bin/sh -e ROOT/XAREXEC_TARGET XARFILE ARGS...</c> in place of itself.
/// With a XAR appended (a self-contained executable, <see cref="SelfContainedRuntime"/>) it runs that XAR instead, and
/// every argument is the program's.
/// Main runs only when PreRuntime/FastStart, which runs the same launch core before the runtime starts, left the launch to it.
/// </summary>
public static class Program
{
    public static int Main(string[] args)
    {
        int self = SelfContainedRuntime.Open(out long archiveOffset);
        if (self >= 0 || self == SelfContainedRuntime.WithoutProc)
            return SelfContainedLaunch.Run(self, archiveOffset, args);
        return args.Length > 0 && args[0] == FuseDaemon.Flag ? FuseDaemon.Main(args.AsSpan(1)) : Launch.Run(args);
    }
}
