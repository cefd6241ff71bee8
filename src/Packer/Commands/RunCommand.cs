using System.CommandLine;
using Xar.Packer.Cli;
using Xar.Runtime;

namespace Xar.Packer.Commands;

/// <summary>
/// `xar run FILE [ARGS...]`: the same as executing the XAR file: execs the xarexec beside `xar`
/// (or on PATH) with the file and every argument after it, untouched (options included).
/// </summary>
public static class RunCommand
{
    public static Command Create()
    {
        var file = new Argument<string>("FILE") { Description = "the XAR file to run" };
        var rest = new Argument<string[]>("ARGS") { Description = "passed to the program unchanged", Arity = ArgumentArity.ZeroOrMore };
        var command = new Command("run", "Run a XAR file (as executing it does): mount or extract it, then start its program.") { file, rest };
        // Only reached for `xar run --help`-like parses: Program.Main hands real runs to TryRun first.
        command.SetAction(parse => Run(parse.GetValue(file)!, parse.GetValue(rest) ?? [], null));
        return command;
    }

    /// <summary>
    /// Called before System.CommandLine parses anything, so that the program's own options after
    /// FILE are never taken for ours. Null when the command line is not a run to hand over.
    /// </summary>
    public static int? TryRun(string[] args)
    {
        if (args.Length < 2 || args[0] != "run" || args[1].StartsWith('-'))
            return null;
        return Run(args[1], args[2..], RawArguments.Of(args)[1..]);
    }

    /// <param name="raw">FILE and ARGS as the bytes given, when known: what is passed on.</param>
    private static int Run(string xarPath, string[] arguments, byte[][]? raw) => CliRunner.Run(xarPath, () =>
    {
        if (!File.Exists(xarPath))
            throw new UsageException(Directory.Exists(xarPath) ? "is a directory, not a XAR file" : "no such file", xarPath);
        string launcher = FindLauncher()
            ?? throw new FileNotFoundException("xarexec not found beside xar or on PATH (make install puts it there)", "xarexec");
        throw ProcessImage.Exec(launcher, [.. RawArguments.Utf8(launcher), .. raw ?? RawArguments.Utf8([xarPath, .. arguments])]);
    });

    /// <summary>xarexec beside the xar executable (also in the bin/ of an install or out/ tree), else on PATH.</summary>
    public static string? FindLauncher()
    {
        string? self = Environment.ProcessPath;
        if (self is not null)
        {
            string dir = Path.GetDirectoryName(self)!;
            // out/xar/xar beside out/bin; PREFIX/lib/xar/xar/xar beside PREFIX/bin (make install).
            foreach (string candidate in (string[])[Path.Combine(dir, "xarexec"), Path.Combine(dir, "..", "bin", "xarexec"), Path.Combine(dir, "..", "..", "..", "bin", "xarexec")])
                if (File.Exists(candidate))
                    return Path.GetFullPath(candidate);
        }
        foreach (string dir in (Environment.GetEnvironmentVariable("PATH") ?? "").Split(':', StringSplitOptions.RemoveEmptyEntries))
        {
            string candidate = Path.Combine(dir, "xarexec");
            if (File.Exists(candidate))
                return candidate;
        }
        return null;
    }
}
