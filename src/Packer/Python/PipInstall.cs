using Xar.Packer.Cli;

namespace Xar.Packer.Python;

/// <summary>
/// pip install of the chosen interpreter into the staging site directory: <c>--target</c>, so that pip installs
/// every dependency there whatever the interpreter has already, and writes nothing into the interpreter's own
/// environment (which is also why an externally managed Python, PEP 668, allows it); <c>--no-compile</c>, as
/// xar compiles everything afterwards the reproducible way.
/// </summary>
internal static class PipInstall
{
    /// <summary>pip's long options that say where to install: xar decides that (--target STAGING), so they are refused.</summary>
    private static readonly string[] WhereOptions = ["--target", "--prefix", "--root", "--user", "--editable"];

    /// <summary>Their short forms, -t DIR and -e PATH.</summary>
    private const string WhereShortOptions = "te";

    /// <summary>pip's short options that take a value: in a group (-Ur FILE, -rFILE) the rest of the word is that value.</summary>
    internal const string ShortOptionsWithValue = "rcetifC";

    /// <summary>
    /// Refuses PIP_ARGS that would install somewhere else than the image (exit 2), before anything runs. pip reads its
    /// options with optparse: a long option may be abbreviated to any prefix that is unique among its options (--targ is
    /// --target; an exact name wins, so --pre is --pre, not --prefix), and short flags may be grouped (-Ut DIR is -U -t DIR).
    /// Every prefix of a refused long option is refused (an ambiguous one pip would refuse anyway).
    /// </summary>
    public static void CheckArguments(IReadOnlyList<string> pipArgs)
    {
        foreach (string argument in pipArgs)
        {
            if (argument.StartsWith("--", StringComparison.Ordinal))
            {
                string option = argument.Split('=')[0];
                if (option.Length < 3 || option == "--pre")
                    continue;
                if (WhereOptions.FirstOrDefault(o => o.StartsWith(option, StringComparison.Ordinal)) is { } full)
                    Refuse(option == full ? option : $"{option} ({full})", option);
            }
            else if (argument.Length > 1 && argument[0] == '-')
            {
                for (int i = 1; i < argument.Length; i++)
                {
                    if (WhereShortOptions.Contains(argument[i]))
                        Refuse(argument.Length == 2 ? argument : $"-{argument[i]} (in {argument})", argument);
                    if (ShortOptionsWithValue.Contains(argument[i]))
                        break; // the rest is its value
                }
            }
        }
    }

    private static void Refuse(string named, string given) =>
        throw new UsageException($"pip's {named} is xar's to decide: pip installs into the image (--target of a staging folder), as a regular install; leave {given} out");

    /// <summary>
    /// What PIP_ARGS may name as a file or folder pip reads (a requirements or constraints file, a project folder, a
    /// wheel, a --find-links folder): every argument, and the value of --OPTION=VALUE and -XVALUE. Not parsed as pip
    /// would: a word that names no file is skipped by the caller, one that names an unrelated file only makes OUT's
    /// check stricter.
    /// </summary>
    public static IEnumerable<string> NamedPaths(IReadOnlyList<string> pipArgs)
    {
        foreach (string argument in pipArgs)
        {
            yield return argument;
            if (argument.StartsWith("--", StringComparison.Ordinal) && argument.IndexOf('=') is int equals and > 2)
                yield return argument[(equals + 1)..];
            else if (argument.Length > 2 && argument[0] == '-' && argument[1] != '-')
                yield return argument[2..];
        }
    }

    public static void Run(PythonInterpreter python, string siteDirectory, IReadOnlyList<string> pipArgs, bool quiet, CancellationToken cancel)
    {
        string[] args = ["-m", "pip", "install", "--target", siteDirectory, "--no-compile", .. pipArgs];
        var environment = new Dictionary<string, string>
        {
            // Never ask (its output is captured), no self-update notice, no warning about root.
            ["PIP_NO_INPUT"] = "1",
            ["PIP_DISABLE_PIP_VERSION_CHECK"] = "1",
            ["PIP_ROOT_USER_ACTION"] = "ignore",
        };
        var result = ToolProcess.Run(python.Program, args, null, cancel, environment);
        if (!result.Succeeded)
            throw new FrontEndException(null, $"pip install failed (exit status {result.ExitCode}): {PipErrors.Line(result)}");
        // pip can succeed and install nothing (an empty requirements file): say so, rather than fail on a folder that is not there.
        if (!Directory.Exists(siteDirectory))
            throw new UsageException("pip installed nothing: PIP_ARGS name no distribution to install (an empty requirements file?)");
        // --target puts the console-script wrappers in bin/, with the build interpreter's path in their
        // first line: the image starts its entry point itself, so they are left out (unless bin is a package).
        string scripts = Path.Combine(siteDirectory, "bin");
        if (Directory.Exists(scripts) && !File.Exists(Path.Combine(scripts, "__init__.py")))
            Directory.Delete(scripts, recursive: true);
        if (!quiet && result.StandardOutput.Split('\n').LastOrDefault(l => l.StartsWith("Successfully installed ", StringComparison.Ordinal)) is { } installed)
            Console.Error.WriteLine("xar: pip: " + installed.Trim());
    }
}
