using System.CommandLine;
using Xar.Packer.Cli;
using Xar.Posix;
using Xar.Runtime;

namespace Xar.Packer.Commands;

/// <summary><c>xar pack SOURCE_DIR -o OUT</c>: a directory into a XAR file or a bare SquashFS image.</summary>
public static class PackCommand
{
    /// <param name="args">The command line (for the bytes of --exec-arg values, see <see cref="RawOptionValues"/>).</param>
    public static Command Create(string[] args)
    {
        var source = new Argument<string>("SOURCE_DIR") { Description = "Directory to pack" };
        var format = new Option<string>("--format") { Description = "xar (default: header + image, executable) or squashfs (bare image)", DefaultValueFactory = _ => "xar" };
        format.AcceptOnlyFromAmong("xar", "squashfs");
        var exec = new Option<string?>("--exec") { HelpName = "PATH", Description = "Entrypoint: executable file inside SOURCE_DIR (a path relative to it) run with the archive's arguments (xar format; default: AppRun at SOURCE_DIR's root, when there is one)" };
        var execArgs = new Option<string[]>(ExecArgOption)
        {
            HelpName = "ARG",
            Description = "Fixed argument for the entrypoint, placed before the archive's arguments (repeatable, in order; --exec-arg=-x for one that starts with -)",
            AllowMultipleArgumentsPerToken = false,
        };
        var options = new PackOptions();
        var command = new Command("pack", "Pack a directory into a XAR file (or a bare SquashFS image). SOURCE_DATE_EPOCH sets the image time and VERSION, for reproducible output.")
        {
            source, format, exec, execArgs,
        };
        options.AddTo(command);
        command.SetAction(parse =>
        {
            // SOURCE_DIR by its bytes: a directory name need not be UTF-8 (LosslessUtf8; messages show such bytes as \xNN).
            string src = LosslessUtf8.Decode(RawArguments.Of(parse.GetValue(source)!));
            // Errors name the file they concern (source entry, OUT, sort file) or none for option errors.
            return CliRunner.Run(null, () =>
            {
                bool isXar = parse.GetValue(format) == "xar";
                string? execPath = RawOptionValues.Path(exec, parse.GetValue(exec)); // by its bytes, as SOURCE_DIR
                if (execPath is not null && !isXar)
                    throw new UsageException("--exec needs --format xar");
                options.Check(parse, isXar);
                CheckSourceDirectory(src);
                if (execPath is not null)
                    CheckExecIsInSource(src, execPath);
                string[] execArgValues = parse.GetValue(execArgs) ?? [];
                if (execArgValues.Length > 0 && execPath is null)
                    throw new UsageException("--exec-arg needs --exec (the entrypoint the arguments are for)");
                var xar = isXar
                    ? new XarWriterOptions { ExecPath = execPath, ExecArguments = RawOptionValues.Find(args, ExecArgOption, execArgValues) }
                    : null;
                return options.Pack(parse, src, xar);
            });
        });
        return command;
    }

    private const string ExecArgOption = "--exec-arg";

    /// <summary>SOURCE_DIR must be a directory; a file that exists is not "missing" (for both formats).</summary>
    private static void CheckSourceDirectory(string src)
    {
        if (PosixPath.TryStat(src) is { IsDirectory: true })
            return;
        throw new UsageException(PosixPath.TryLstat(src) is not null ? "is not a directory (SOURCE_DIR is the directory to pack)" : "no such directory", LosslessUtf8.Display(src));
    }

    /// <summary>
    /// --exec is relative to SOURCE_DIR. A path that is not in the tree but exists from the current
    /// directory (`xar pack app -o a.xar --exec app/bin/run`) gets a hint instead of "no such file".
    /// </summary>
    private static void CheckExecIsInSource(string src, string execPath)
    {
        if (PosixPath.TryStat(Path.Join(src, execPath)) is not null || PosixPath.TryStat(execPath) is null)
            return;
        string full = NativePath.FullPath(execPath);
        string root = NativePath.FullPath(src);
        string relative = Path.GetRelativePath(root, full);
        bool inside = relative != "." && relative != ".." && !relative.StartsWith("../", StringComparison.Ordinal) && !Path.IsPathRooted(relative);
        string shown = LosslessUtf8.Display(src);
        throw new UsageException(inside
            ? $"--exec: no such file in {shown}: the path is relative to SOURCE_DIR (try --exec {LosslessUtf8.Display(relative)})"
            : $"--exec: no such file in {shown}: the path is relative to SOURCE_DIR, and {LosslessUtf8.Display(execPath)} is not inside it (the entrypoint must be in the archive)", LosslessUtf8.Display(execPath));
    }
}
