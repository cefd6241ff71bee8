using System.CommandLine;
using Xar.Packer.Cli;
using Xar.Runtime;

namespace Xar.Packer.Commands;

/// <summary>`xar unmount FILE|DIR [--lazy]`: unmounts a XAR's mount (found from the file) or a mount directory.</summary>
public static class UnmountCommand
{
    public static Command Create()
    {
        var target = new Argument<string>("FILE|DIR") { Description = "a XAR file, or the directory it is mounted on" };
        var lazy = new Option<bool>("--lazy", "-z") { Description = "detach now even if in use; the mount goes away when its last user is done" };
        var command = new Command("unmount", "Unmount a mounted XAR (by its file or its mount directory).") { target, lazy };
        command.SetAction(parse =>
        {
            string path = parse.GetValue(target)!;
            return CliRunner.Run(path, () =>
            {
                string mountPath = Directory.Exists(path) ? path : XarUnmounter.MountPathOf(path);
                XarUnmounter.Unmount(mountPath, parse.GetValue(lazy));
                return ExitCodes.Success;
            });
        });
        return command;
    }
}
