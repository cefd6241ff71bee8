using System.Text;
using Xar.Posix;
using Xar.Runtime;
using Xar.Runtime.Launching;

namespace Xar.Launcher;

/// <summary>
/// One run of xarexec's Main: the options, then the launch core through <see cref="XarLauncher"/>, which
/// also extracts when FUSE cannot serve; failures become one line and exit status 127.
/// </summary>
internal static class Launch
{
    public const int LauncherFailure = 127;
    private const string Usage =
        "usage: xarexec [-m | -n | -h] XARFILE [ARGS...]\n" +
        "Runs a XAR file: mounts its image with its own FUSE server (or extracts it once into a cache where\n" +
        "FUSE cannot serve) and execs /bin/sh -e MOUNT/XAREXEC_TARGET XARFILE ARGS...\n" +
        "  -m  mount (or extract) and print the directory; run nothing\n" +
        "  -n  print the mount directory; mount nothing\n" +
        "  -h  this help\n" +
        "Environment: XAR_MOUNT_ROOT, XAR_MOUNT_SEED, XAR_MOUNT_TIMEOUT (seconds, default 870),\n" +
        "XAR_EXTRACT=1 (always extract), XAR_CACHE_DIR (default ${XDG_CACHE_HOME:-~/.cache}/xar),\n" +
        "XAR_FUSE=squashfuse (mount with squashfuse_ll or squashfuse instead).\n" +
        "Trust policy: with minisign public keys (*.pub) in /etc/xar/trusted-keys.d or ~/.config/xar/trusted-keys.d,\n" +
        "only files signed by one of them (xar sign) run; others are refused before anything is mounted.\n";

    public static int Run(string[] args)
    {
        var mode = LaunchMode.Run;
        int i = 0;
        for (; i < args.Length && args[i].Length > 1 && args[i][0] == '-'; i++)
        {
            switch (args[i])
            {
                case "-m":
                    mode = LaunchMode.Mount;
                    continue;
                case "-n":
                    mode = LaunchMode.Locate;
                    continue;
                case "-h":
                case "--help":
                    Write(1, Usage);
                    return 0;
                case "--":
                    i++;
                    break;
                default:
                    Write(2, $"xarexec: unknown option {args[i]}\n{Usage}");
                    return LauncherFailure;
            }
            break;
        }
        if (i >= args.Length)
        {
            Write(2, Usage);
            return LauncherFailure;
        }
        // The XAR path and arguments as the bytes given (.NET's strings replace bytes that are not UTF-8).
        byte[][] raw = RawArguments.Of(args);
        string xarPath = LosslessUtf8.Escape(raw[i]); // for messages: \xNN for a byte that is not UTF-8
        return Guarded($"xarexec: {xarPath}: ", Path.GetFileName(xarPath), () =>
        {
            string directory = XarLauncher.Launch(raw[i], raw[(i + 1)..], mode, notice => Write(2, $"xarexec: {xarPath}: {notice}\n"));
            Write(1, directory + "\n");
            return 0;
        });
    }

    /// <summary>
    /// Runs a launch; a failure becomes one line (<paramref name="prefix"/> then the cause) on stderr, a desktop notice
    /// (<see cref="DesktopNotice"/>) about <paramref name="name"/>, and exit status 127. A bug of ours too: never a stack trace.
    /// </summary>
    public static int Guarded(string prefix, string name, Func<int> launch)
    {
        string message;
        try
        {
            return launch();
        }
        catch (XarLaunchException e)
        {
            message = e.Message;
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException or Xar.SquashFs.Format.InvalidArchiveException)
        {
            message = e.Message;
        }
        catch (Exception e)
        {
            message = $"internal error: {e.GetType().Name}: {e.Message}";
        }
        string line = message.ReplaceLineEndings(" ").Trim();
        Write(2, $"{prefix}{line}\n");
        DesktopNotice.Show($"{name} could not start", line);
        return LauncherFailure;
    }

    /// <summary>Writes <paramref name="text"/>'s bytes (<see cref="LosslessUtf8"/>: a directory's name is written as the bytes it has).</summary>
    public static unsafe void Write(int fd, string text)
    {
        byte[] bytes = LosslessUtf8.Encode(text);
        fixed (byte* p = bytes)
        {
            int done = 0;
            while (done < bytes.Length)
            {
                nint n = LibC.Write(fd, p + done, bytes.Length - done);
                if (n < 0 && LibC.LastError == LibC.EINTR)
                    continue;
                if (n <= 0)
                    return;
                done += (int)n;
            }
        }
    }
}
