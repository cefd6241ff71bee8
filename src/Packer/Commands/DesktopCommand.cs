using System.CommandLine;
using Xar.Packer.Cli;
using Xar.Packer.Desktop;

namespace Xar.Packer.Commands;

/// <summary>`xar desktop install|uninstall FILE`: a bundle's menu entry and icon for this user (no root).</summary>
public static class DesktopCommand
{
    public static Command Create()
    {
        var command = new Command("desktop",
            "Add a bundle (a XAR with APP_ID.desktop at its image root, see pack --desktop-file) to this user's application menu, or remove it. No root needed.");
        command.Subcommands.Add(Install());
        command.Subcommands.Add(Uninstall());
        return command;
    }

    private static Argument<string> FileArgument() => new("FILE") { Description = "the XAR (or self-contained executable), by its absolute path" };

    private static Command Install()
    {
        var file = FileArgument();
        var command = new Command("install",
            "Write the menu entry to $XDG_DATA_HOME/applications/APP_ID.desktop (default ~/.local/share), Exec= and TryExec= this FILE, and its icon into the hicolor theme; a new version replaces the old entry.")
        { file };
        command.SetAction(parse =>
        {
            string path = parse.GetValue(file)!;
            return CliRunner.Run(path, () =>
            {
                var installed = DesktopInstaller.Install(path, Warn);
                StandardOutput.Writer.WriteLine($"{installed.AppId}: menu entry {installed.EntryPath}"
                    + (installed.IconPaths.Count > 0 ? ", icon " + string.Join(", ", installed.IconPaths) : ", no icon")
                    + $", starting {path}");
                return ExitCodes.Success;
            });
        });
        return command;
    }

    private static Command Uninstall()
    {
        var file = FileArgument();
        var command = new Command("uninstall",
            "Remove the menu entry and icon that install wrote for FILE's app id (found by the path it starts when FILE is gone).")
        { file };
        command.SetAction(parse =>
        {
            string path = parse.GetValue(file)!;
            return CliRunner.Run(path, () =>
            {
                var removed = DesktopInstaller.Uninstall(path, Warn);
                StandardOutput.Writer.WriteLine(removed.Count > 0 ? "removed " + string.Join(", ", removed) : $"{path}: no menu entry installed");
                return ExitCodes.Success;
            });
        });
        return command;
    }

    private static void Warn(string message) => Console.Error.WriteLine($"xar: warning: {message}");
}
