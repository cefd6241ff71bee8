using Xar.Posix;
using Xar.Runtime;

namespace Xar.Launcher;

/// <summary>
/// A launcher failure shown on the desktop too: started from a file manager or a menu, nobody reads standard error.
/// Only when standard error is not a terminal, a graphical session is there (DISPLAY or WAYLAND_DISPLAY) and
/// <c>notify-send</c> is on PATH; a notification that cannot be shown changes nothing.
/// </summary>
internal static class DesktopNotice
{
    public static void Show(string title, string message)
    {
        if (LibC.IsATty(2) == 1 || (IsUnset("DISPLAY") && IsUnset("WAYLAND_DISPLAY")))
            return;
        if (ChildProcess.FindOnPath("notify-send") is not { } program)
            return;
        try
        {
            ChildProcess.Run(program, "--app-name=xar", "--urgency=critical", "--icon=dialog-error", "--", title, message);
        }
        catch (XarLaunchException)
        {
            // stderr has the message already
        }
    }

    private static bool IsUnset(string name) => string.IsNullOrEmpty(Environment.GetEnvironmentVariable(name));
}
