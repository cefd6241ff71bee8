using System.CommandLine;
using Xar.Packer.Cli;
using Xar.Posix;
using Xar.SquashFs;

namespace Xar.Packer.Commands;

/// <summary>`xar cat FILE PATH`: one file's bytes to stdout, reading only its blocks.</summary>
public static class CatCommand
{
    public static Command Create()
    {
        var file = ImageInput.FileArgument();
        var offset = ImageInput.OffsetOption();
        var path = new Argument<string>("PATH") { Description = "path of a regular file inside the image (symlinks inside the image are followed)" };
        var command = new Command("cat", "Write one file of a XAR or SquashFS image to standard output.") { file, path, offset };
        command.SetAction(parse =>
        {
            string input = parse.GetValue(file)!;
            return CliRunner.Run(ImageInput.Display(input), () =>
            {
                string p = ImageInput.PathArgument(parse.GetValue(path)!);
                using var archive = ImageInput.Open(input, parse.GetValue(offset));
                var image = archive.Image;
                var entry = image.GetEntry(p, followSymlinks: true) ?? throw new UsageException($"{LosslessUtf8.Display(p)}: no such file in the image");
                if (entry.EntryType != SquashFsEntryType.RegularFile)
                    throw new UsageException($"{LosslessUtf8.Display(p)}: not a regular file ({entry.EntryType})");
                using var data = image.OpenRead(entry);
                // Held until the last block has been read (up to HeldOutput.Limit): a corrupt block then writes nothing.
                using var stdout = new HeldOutput(StandardOutput.Stream);
                data.CopyTo(stdout, 1 << 17);
                stdout.Commit();
                return ExitCodes.Success;
            });
        });
        return command;
    }
}
