using System.CommandLine;
using Xar.Packer.Cli;
using Xar.Posix;
using Xar.Runtime;

namespace Xar.Packer.Commands;

/// <summary>`xar gc [--idle 15m] [--older-than 30d] [--dry-run]`: unmount idle mounts, delete unused cache entries.</summary>
public static class GcCommand
{
    public static Command Create()
    {
        var idle = new Option<string>("--idle") { Description = "unmount this user's XAR mounts unused for this long (s, m, h, d, w)", DefaultValueFactory = _ => "15m" };
        var olderThan = new Option<string>("--older-than") { Description = "delete extraction-cache entries and pulled blobs (xar pull) unused for this long", DefaultValueFactory = _ => "30d" };
        var dryRun = new Option<bool>("--dry-run", "-n") { Description = "only say what would be done" };
        var verbose = new Option<bool>("--verbose", "-v") { Description = "also list what is kept, and why, and the XAR file of each mount and entry" };
        var command = new Command("gc", "Unmount idle XAR mounts and delete unused extraction-cache entries (never one in use) and blobs kept by xar pull.")
        {
            idle, olderThan, dryRun, verbose,
        };
        command.SetAction(parse => CliRunner.Run(null, () =>
        {
            if (!XarGarbageCollector.TryParseDuration(parse.GetValue(idle)!, out var idleTime))
                throw new UsageException($"--idle {parse.GetValue(idle)}: not a duration (like 90s, 15m, 2h, 30d)");
            if (!XarGarbageCollector.TryParseDuration(parse.GetValue(olderThan)!, out var age))
                throw new UsageException($"--older-than {parse.GetValue(olderThan)}: not a duration (like 90s, 15m, 2h, 30d)");
            bool all = parse.GetValue(verbose);
            var actions = XarGarbageCollector.Collect(idleTime, age, parse.GetValue(dryRun));
            int status = ExitCodes.Success;
            foreach (var a in actions)
            {
                if (a.Outcome.StartsWith("cannot ", StringComparison.Ordinal))
                {
                    // One entry that cannot go does not stop the others; it makes the run a failure (exit 1).
                    Console.Error.WriteLine($"xar: {LosslessUtf8.Display(a.Path)}: {a.Outcome}");
                    status = ExitCodes.Failure;
                }
                else if (all || a.Outcome is "unmounted" or "deleted" or "would unmount" or "would delete")
                {
                    StandardOutput.Writer.WriteLine($"{a.Outcome}: {LosslessUtf8.Display(a.Path)}");
                    if (all && a.XarFile is not null)
                        StandardOutput.Writer.WriteLine($"  from {a.XarFile}");
                }
            }
            return status;
        }));
        return command;
    }
}
