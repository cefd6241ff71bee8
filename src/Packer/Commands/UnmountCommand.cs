using System.CommandLine;
using Xar.Packer.Cli;
using Xar.Posix;
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
            // The argument's bytes: a mount directory (or file) need not be UTF-8.
            byte[] raw = RawArguments.Of(parse.GetValue(target)!);
            return CliRunner.Run(NativePath.Display(raw), () =>
            {
                string given = LosslessUtf8.Decode(raw);
                string mountPath = PosixPath.TryStat(given) is { IsDirectory: true } ? given : XarUnmounter.MountPathOf(raw);
                XarUnmounter.Unmount(mountPath, parse.GetValue(lazy));
                return ExitCodes.Success;
            });
        });
        return command;
    }
}
