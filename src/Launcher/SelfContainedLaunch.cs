using System.Text;
using Xar.Posix;
using Xar.Runtime;
using Xar.Runtime.Fuse;
using Xar.Runtime.Launching;

namespace Xar.Launcher;

/// <summary>
/// Main of a self-contained executable (xarexec with a XAR appended): no options, every argument is the program's,
/// settings from the environment only. The launch core runs on the executable's own descriptor; the FUSE server it
/// starts from this executable is told apart by the image it is handed (<see cref="SelfContainedRuntime.IsFuseServer"/>).
/// Failures are one line, <c>PATH: cause</c>, and exit status 127.
/// </summary>
internal static class SelfContainedLaunch
{
    public static unsafe int Run(int self, long archiveOffset, string[] args)
    {
        // The server is told apart before the arguments are read back as bytes (/proc/self/cmdline, 0.2 ms on its way
        // to the mount): "--fuse-serve" is ASCII, so the string is that flag exactly when the bytes are.
        if (args.Length > 0 && args[0] == FuseDaemon.Flag && SelfContainedRuntime.IsFuseServer(FuseServeCommandLine.Flag, self))
        {
            LibC.Close(self);
            return FuseDaemon.Main(args.AsSpan(1));
        }
        if (self == SelfContainedRuntime.WithoutProc)
        {
            string shown = Environment.GetCommandLineArgs()[0];
            Launch.Write(2, $"{shown}: cannot find its own file to read the program from: /proc is not mounted (a self-contained executable opens /proc/self/exe)\n");
            return Launch.LauncherFailure;
        }
        byte[][] raw = RawArguments.Of(args);
        SelfContainedRuntime.SetOriginalDirectory();
        byte* buffer = stackalloc byte[LaunchOutcome.PathCapacity];
        byte[] path = SelfContainedRuntime.ProgramPath(self, buffer, LaunchOutcome.PathCapacity)
            ? new ReadOnlySpan<byte>(buffer, NativeText.FromCString(buffer).Length).ToArray()
            : "/proc/self/exe"u8.ToArray();
        string name = LosslessUtf8.Escape(path); // for messages: \xNN for a byte that is not UTF-8
        try
        {
            return Launch.Guarded($"{name}: ", Path.GetFileName(name), () =>
            {
                XarLauncher.LaunchOpened(self, archiveOffset, path, raw, LaunchMode.Run, notice => Launch.Write(2, $"{name}: {notice}\n"));
                return Launch.LauncherFailure; // Run returns only by throwing
            });
        }
        finally
        {
            LibC.Close(self);
        }
    }
}
