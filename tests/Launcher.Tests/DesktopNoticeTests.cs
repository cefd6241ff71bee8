using Xar.Tests;

namespace Xar.Launcher.Tests;

/// <summary>
/// A launcher failure goes to notify-send as well when standard error is not a terminal and a graphical session
/// is there (a file manager or menu started it); never on a terminal, without a session, or when all went well.
/// A notify-send first on PATH records its arguments.
/// </summary>
public class DesktopNoticeTests
{
    /// <summary>A sandbox whose launch fails at once (XAR_FUSE names no server) unless <paramref name="fail"/> is false.</summary>
    private static (LauncherSandbox Sandbox, string Xar, Dictionary<string, string?> Env) Setup(bool fail = true)
    {
        TestEnv.RequireTool("mksquashfs");
        var s = new LauncherSandbox();
        string xar = TestXar.Build(s.AppTree, s["app.xar"]);
        string bin = s["bin"];
        Directory.CreateDirectory(bin);
        TestXar.WriteExecutable(Path.Combine(bin, "notify-send"), "#!/bin/sh\nfor a in \"$@\"; do printf '[%s]' \"$a\"; done >>\"$NOTICE_LOG\"\necho >>\"$NOTICE_LOG\"\n");
        var env = s.Environment(extract: true);
        env["PATH"] = bin + ":" + Environment.GetEnvironmentVariable("PATH");
        env["NOTICE_LOG"] = s["notices.log"];
        env["DISPLAY"] = null;
        env["WAYLAND_DISPLAY"] = null;
        env["XAR_FUSE"] = fail ? "none-such" : null;
        return (s, xar, env);
    }

    private static string[] Notices(LauncherSandbox s) => File.Exists(s["notices.log"]) ? File.ReadAllLines(s["notices.log"]) : [];

    [SkippableTheory]
    [InlineData("DISPLAY", ":0")]
    [InlineData("WAYLAND_DISPLAY", "wayland-0")]
    public void AFailureOffATerminalInADesktopSessionIsAlsoANotification(string variable, string value)
    {
        var (s, xar, env) = Setup();
        using var _ = s;
        env[variable] = value;
        var r = s.Run(xar, [], env);
        string cause = LaunchAssert.OneLineFailure(r, xar); // stderr keeps its one line
        Assert.Equal([$"[--app-name=xar][--urgency=critical][--icon=dialog-error][--][app.xar could not start][{cause}]"], Notices(s));
    }

    [SkippableFact]
    public void NoNotificationWithoutASessionOnATerminalOrOnSuccess()
    {
        var (s, xar, env) = Setup();
        using var _ = s;
        Assert.Equal(127, s.Run(xar, [], env).ExitCode); // no DISPLAY, no WAYLAND_DISPLAY
        Assert.Empty(Notices(s));

        TestEnv.RequireTool("script");
        env["DISPLAY"] = ":0";
        env["LAUNCHER"] = LauncherBinary.Path;
        env["XAR"] = xar;
        // On a terminal (script gives the launcher one): the user reads the message there.
        var onTerminal = TestEnv.Run(new RunOptions("script", ["-qec", "\"$LAUNCHER\" \"$XAR\"", "/dev/null"]) { Environment = env });
        Assert.Contains("is not one of", onTerminal.StandardOutput);
        Assert.Empty(Notices(s));

        var (ok, okXar, okEnv) = Setup(fail: false);
        using var __ = ok;
        okEnv["DISPLAY"] = ":0";
        LaunchAssert.Succeeded(ok.Run(okXar, [], okEnv));
        Assert.Empty(Notices(ok));
    }
}
