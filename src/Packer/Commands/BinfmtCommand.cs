using System.CommandLine;
using Xar.Packer.Cli;
using Xar.Runtime;

namespace Xar.Packer.Commands;

/// <summary>
/// `xar binfmt install|uninstall|status`: the kernel runs XAR files with xarexec directly
/// (binfmt_misc) instead of through the shebang's /usr/bin/env.
/// </summary>
public static class BinfmtCommand
{
    public static Command Create()
    {
        var command = new Command("binfmt",
            "Let the kernel start XAR files with xarexec directly (binfmt_misc), skipping /usr/bin/env: one process and about 0.6 ms less per start. Machine-wide; needs root.");
        command.Subcommands.Add(Install());
        command.Subcommands.Add(Uninstall());
        command.Subcommands.Add(Status());
        return command;
    }

    private static Option<string> NameOption() => new("--name")
    {
        HelpName = "NAME",
        Description = "binfmt_misc entry name",
        DefaultValueFactory = _ => BinfmtRegistration.DefaultName,
    };

    private static Command Install()
    {
        var launcher = new Option<string?>("--launcher") { HelpName = "PATH", Description = "xarexec to run (default: the one installed with this xar, else xarexec on PATH)" };
        var noPersist = new Option<bool>("--no-persist") { Description = $"register until the next reboot only (no {BinfmtRegistration.PersistentDirectory}/NAME.conf)" };
        var name = NameOption();
        var command = new Command("install", "Register xarexec for files starting with \"#!/usr/bin/env xarexec_fuse\".") { launcher, noPersist, name };
        command.SetAction(parse => CliRunner.Run(null, () =>
        {
            string path = parse.GetValue(launcher) is { } given ? Path.GetFullPath(given)
                : BinfmtRegistration.DefaultLauncher(Environment.ProcessPath) ?? throw new UsageException("no xarexec on PATH; give --launcher PATH");
            string entry = parse.GetValue(name)!;
            bool persist = !parse.GetValue(noPersist);
            Run(() => BinfmtRegistration.Register(entry, path, persist));
            StandardOutput.Writer.WriteLine($"XAR files now start with {path} directly (binfmt_misc entry {entry}"
                + (persist ? $", kept at boot by {BinfmtRegistration.PersistentDirectory}/{entry}.conf)" : ", until reboot)"));
            return ExitCodes.Success;
        }));
        return command;
    }

    private static Command Uninstall()
    {
        var name = NameOption();
        var command = new Command("uninstall", "Remove the registration (XAR files start through /usr/bin/env again).") { name };
        command.SetAction(parse => CliRunner.Run(null, () =>
        {
            string entry = parse.GetValue(name)!;
            bool removed = false;
            Run(() => removed = BinfmtRegistration.Unregister(entry));
            StandardOutput.Writer.WriteLine(removed ? $"binfmt_misc entry {entry} removed" : $"binfmt_misc entry {entry} was not registered");
            return ExitCodes.Success;
        }));
        return command;
    }

    private static Command Status()
    {
        var name = NameOption();
        var command = new Command("status", "Show the registration; exit status 1 when there is none.") { name };
        command.SetAction(parse => CliRunner.Run(null, () =>
        {
            string entry = parse.GetValue(name)!;
            if (BinfmtRegistration.Status(entry) is not { } status)
            {
                StandardOutput.Writer.WriteLine($"{entry}: not registered (XAR files start through /usr/bin/env)");
                return ExitCodes.Failure;
            }
            StandardOutput.Writer.WriteLine($"{entry}: {(status.Enabled ? "enabled" : "disabled")}, interpreter {status.Interpreter}, "
                + (status.PersistentFile is { } file ? $"kept at boot by {file}" : "until reboot"));
            return ExitCodes.Success;
        }));
        return command;
    }

    /// <summary>The kernel's refusals (not root, no binfmt_misc) are failures (exit 1), not bad usage.</summary>
    private static void Run(Action action)
    {
        try
        {
            action();
        }
        catch (XarLaunchException e)
        {
            throw new IOException(e.Message, e);
        }
    }
}
