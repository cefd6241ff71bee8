using System.CommandLine;

namespace Xar.Packer;

public static class Program
{
    public static int Main(string[] args)
    {
        // The built-in FUSE server's internal mode: `xar run` and `xar mount` start this executable in it.
        if (args.Length > 0 && args[0] == Xar.Runtime.Fuse.FuseDaemon.Flag)
            return Xar.Runtime.Fuse.FuseDaemon.Main(args.AsSpan(1));
        Cli.StandardError.Install(); // a closed stderr costs the messages, never the exit status
        // `xar run FILE ARGS...` hands every argument after FILE to the program, options included.
        if (Commands.RunCommand.TryRun(args) is int ran)
            return ran;
        var root = new RootCommand("xar: pack an application into one compressed, read-only, executable file (XAR / SquashFS), and inspect such files.");
        // One line per command; each command lives in Commands/<Name>Command.cs.
        // (pack)
        root.Subcommands.Add(Commands.PackCommand.Create(args));
        // (front-ends: a project built by its own tool, then packed with pack's options)
        root.Subcommands.Add(Dotnet.DotnetCommand.Create(args));
        root.Subcommands.Add(Node.NodeCommand.Create());
        root.Subcommands.Add(Commands.PythonCommand.Create());
        // (info, ls, cat, extract, verify)
        root.Subcommands.Add(Commands.InfoCommand.Create());
        root.Subcommands.Add(Commands.LsCommand.Create());
        root.Subcommands.Add(Commands.CatCommand.Create());
        root.Subcommands.Add(Commands.ExtractCommand.Create());
        root.Subcommands.Add(Commands.VerifyCommand.Create());
        // (sign)
        root.Subcommands.Add(Commands.SignCommand.Create());
        // (run, mount, unmount, gc)
        root.Subcommands.Add(Commands.RunCommand.Create());
        root.Subcommands.Add(Commands.MountCommand.Create());
        root.Subcommands.Add(Commands.UnmountCommand.Create());
        root.Subcommands.Add(Commands.GcCommand.Create());
        root.Subcommands.Add(Commands.BinfmtCommand.Create());
        // (desktop)
        root.Subcommands.Add(Commands.DesktopCommand.Create());
        // (push, pull: OCI registries)
        root.Subcommands.Add(Commands.PushCommand.Create());
        root.Subcommands.Add(Commands.PullCommand.Create());
        var parsed = root.Parse(args);
        // System.CommandLine reports parse errors with exit 1; DESIGN wants 2 for bad usage.
        if (parsed.Errors.Count > 0)
        {
            // One line (DESIGN): the first error, its list of allowed values folded onto the line.
            // The unknown word says most ("xar bogus": not "Required command was not provided").
            var error = parsed.Errors.FirstOrDefault(e => e.Message.StartsWith("Unrecognized", StringComparison.Ordinal)) ?? parsed.Errors[0];
            string message = string.Join(' ', error.Message.Split(['\r', '\n', '\t'], StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries));
            Console.Error.WriteLine($"xar: {message}");
            return Cli.ExitCodes.BadInput;
        }
        try
        {
            if (Cli.RootHelp.IsRequested(parsed, root))
                return Cli.RootHelp.Write(parsed, root);
            // Help and every command write through Cli.StandardOutput, which reports a closed pipe.
            return parsed.Invoke(new InvocationConfiguration { Output = Cli.StandardOutput.Writer, EnableDefaultExceptionHandler = false });
        }
        catch (Cli.BrokenPipeException)
        {
            return Cli.ExitCodes.BrokenPipe;
        }
        catch (IOException e) when (e.Message.StartsWith("standard output: ", StringComparison.Ordinal))
        {
            // Help or a listing written where there is no room (`> /dev/full`): a failure while working, not a bug.
            return Cli.CliRunner.Fail(null, e.Message, Cli.ExitCodes.Failure);
        }
        catch (Exception e)
        {
            // Commands turn what they expect into their own one-line errors (CliRunner); this is a bug,
            // still reported on one line (DESIGN: never a stack trace).
            Console.Error.WriteLine($"xar: unexpected error: {e.GetType().Name}: {e.Message.ReplaceLineEndings(" ")}");
            return Cli.ExitCodes.Failure;
        }
    }
}
