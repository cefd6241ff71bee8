using System.CommandLine;
using Xar.Packer.Cli;
using Xar.Runtime;
using Xar.Runtime.Launching;

namespace Xar.Packer.Commands;

/// <summary>
/// `xar run FILE [ARGS...]`: the same as executing the XAR file: the launch core with the file and every
/// argument after it, untouched (options included); no xarexec needed.
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
    private static int Run(string xarPath, string[] arguments, byte[][]? raw)
    {
        raw ??= RawArguments.Utf8([xarPath, .. arguments]);
        if (Kind(raw[0]) is { } problem)
            return CliRunner.Run(xarPath, () => throw new UsageException(problem, xarPath));
        try
        {
            // The launch core, as xarexec runs it: returns only when the program could not be started.
            XarLauncher.Launch(raw[0], raw[1..], LaunchMode.Run, notice => Console.Error.Write($"xar: {xarPath}: {notice}\n"));
            return LauncherFailure;
        }
        catch (XarLaunchException e)
        {
            Console.Error.Write($"xar: {xarPath}: {e.Message.ReplaceLineEndings(" ").Trim()}\n");
            return LauncherFailure;
        }
    }

    /// <summary>Why the file (named by its bytes) cannot be a XAR file to run, or null.</summary>
    private static unsafe string? Kind(byte[] path)
    {
        byte[] cpath = [.. path, 0];
        Xar.Posix.LibC.Statx st;
        fixed (byte* p = cpath)
            if (Xar.Posix.LibC.StatxAt(Xar.Posix.LibC.AT_FDCWD, p, 0, Xar.Posix.LibC.STATX_BASIC_STATS, &st) != 0)
                return "no such file";
        return st.IsDirectory ? "is a directory, not a XAR file"
            : !st.IsRegularFile ? "is not a regular file, so it holds no XAR" : null;
    }

    /// <summary>A launcher failure, as xarexec's: never taken for the program's own exit status.</summary>
    public const int LauncherFailure = 127;
}
