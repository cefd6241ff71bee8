using System.CommandLine;
using Xar.Packer.Cli;
using Xar.Posix;
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
            byte[] raw = RawArguments.Of(parse.GetValue(file)!); // a file name need not be UTF-8
            string path = NativePath.Display(raw);
            return CliRunner.Run(path, () =>
            {
                var status = PosixPath.TryStat(LosslessUtf8.Decode(raw));
                if (status is { IsDirectory: true })
                    throw new UsageException("is a directory, not a XAR file", path);
                if (status is { IsRegularFile: false })
                    throw new UsageException("is not a regular file, so it holds no XAR", path);
                try
                {
                    string directory = XarLauncher.Launch(raw, [], LaunchMode.MountOnly, _ => { });
                    StandardOutput.Stream.Write([.. LosslessUtf8.Encode(directory), (byte)'\n']); // its bytes, whatever they are
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
