using System.CommandLine;
using Xar.Packer.Cli;
using Xar.Runtime;
using Xar.Runtime.Launching;

namespace Xar.Packer.Commands;

/// <summary>`xar mount FILE`: mounts the XAR where xarexec would (or finds it mounted) and prints the directory.</summary>
public static class MountCommand
{
    public static Command Create()
    {
        var file = new Argument<string>("FILE") { Description = "the XAR file to mount" };
        var command = new Command("mount", "Mount a XAR file where running it would (its own FUSE server; XAR_FUSE=squashfuse for squashfuse), and print the directory.") { file };
        command.SetAction(parse =>
        {
            string path = parse.GetValue(file)!;
            return CliRunner.Run(path, () =>
            {
                if (Directory.Exists(path))
                    throw new UsageException("is a directory, not a XAR file", path);
                try
                {
                    StandardOutput.Writer.WriteLine(XarLauncher.Launch(System.Text.Encoding.UTF8.GetBytes(path), [], LaunchMode.MountOnly, _ => { }));
                }
                catch (FuseUnavailableException e)
                {
                    throw new IOException($"cannot mount: {e.Reason} (xar extract unpacks it instead)");
                }
                return ExitCodes.Success;
            });
        });
        return command;
    }
}
