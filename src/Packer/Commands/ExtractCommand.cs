using System.CommandLine;
using Xar.Packer.Cli;
using Xar.Posix;
using Xar.Runtime;
using Xar.SquashFs;

namespace Xar.Packer.Commands;

/// <summary>`xar extract FILE [-o DIR] [PATH...]`: the whole tree, or some paths, into a new directory.</summary>
public static class ExtractCommand
{
    public static Command Create()
    {
        var file = ImageInput.FileArgument();
        var offset = ImageInput.OffsetOption();
        var paths = new Argument<string[]>("PATH") { Description = "paths inside the image to extract (default: everything)", Arity = ArgumentArity.ZeroOrMore };
        var output = new Option<string?>("--output", "-o") { Description = "directory to create (must not exist; default: squashfs-root)" };
        var jobs = new Option<int>("--jobs", "-j") { Description = "threads decompressing data (default: one per processor)" };
        var noOwners = new Option<bool>("--no-owners") { Description = "do not restore uid/gid (only restored as root anyway)" };
        var noXattrs = new Option<bool>("--no-xattrs") { Description = "do not restore extended attributes" };
        var quiet = new Option<bool>("--quiet", "-q") { Description = "no warnings" };
        var command = new Command("extract", "Extract a XAR or SquashFS image into a new directory (safely: nothing is written outside it).")
        {
            file, paths, output, offset, jobs, noOwners, noXattrs, quiet,
        };
        command.SetAction(parse =>
        {
            string path = parse.GetValue(file)!;
            string fileShown = ImageInput.Display(path);
            return CliRunner.Run(fileShown, () =>
            {
                int j = parse.GetValue(jobs);
                if (j is < 0 or > 1024)
                    throw new UsageException($"--jobs must be 0..1024 (0: one per processor), not {j}");
                // By the bytes given (LosslessUtf8): a name that is not UTF-8 is created, and found in the image, as it is.
                string destination = parse.GetValue(output) is { } given ? ImageInput.PathArgument(given) : "squashfs-root";
                bool beQuiet = parse.GetValue(quiet);
                // An existing destination (even a dangling symlink) is bad usage: we never merge into one.
                if (PosixPath.TryLstat(destination) is not null)
                    throw new UsageException("already exists; extract creates a new directory (choose another -o)", LosslessUtf8.Display(destination));
                using var archive = ImageInput.Open(path, parse.GetValue(offset));
                var image = archive.Image;
                var selected = (parse.GetValue(paths) ?? []).Select(ImageInput.PathArgument).ToArray();
                foreach (var p in selected)
                    if (image.GetEntry(p) is null)
                        throw new UsageException($"{LosslessUtf8.Display(p)}: no such path in the image (symlinks are not followed)", fileShown);
                using var interruption = new Interruption(); // the partial tree is removed, as after any failure
                // Progress only on a terminal; pipes and logs stay quiet.
                bool showProgress = !beQuiet && !Console.IsErrorRedirected;
                var clock = System.Diagnostics.Stopwatch.StartNew();
                long lastShown = 0;
                bool shown = false;
                SquashFsFile.ExtractToDirectory(image, destination, new SquashFsExtractOptions
                {
                    Progress = !showProgress ? null : p =>
                    {
                        long now = clock.ElapsedMilliseconds;
                        if (now - lastShown < 250)
                            return;
                        lastShown = now;
                        shown = true;
                        Console.Error.Write($"\rxar: extracting: {p.Entries} entries, {p.Bytes >> 20} MiB");
                    },
                    Paths = selected.Length > 0 ? selected : null,
                    MaxDegreeOfParallelism = j,
                    RestoreOwners = !parse.GetValue(noOwners),
                    RestoreXattrs = !parse.GetValue(noXattrs),
                    Warning = beQuiet ? null : message => Console.Error.WriteLine($"xar: {fileShown}: warning: {message}"),
                    CancellationToken = interruption.Token,
                });
                if (shown)
                    Console.Error.Write("\r\x1b[K");
                return ExitCodes.Success;
            });
        });
        return command;
    }
}
