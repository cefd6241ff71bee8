using System.CommandLine;
using Xar.Packer.Cli;
using Xar.Packer.Python;
using Xar.Runtime;

namespace Xar.Packer.Commands;

/// <summary>
/// <c>xar python [PIP_ARGS...] -o OUT (--console-script NAME | --entry-point MODULE[:FUNC])</c>: pip installs the app and
/// its dependencies into a staging folder, every .py is precompiled there by the interpreter that will run it, and
/// the folder is packed with an entrypoint that starts the app (docs/ARCHITECTURE.md, "xar python").
/// </summary>
public static class PythonCommand
{
    public static Command Create()
    {
        var pipArgs = new Argument<string[]>("PIP_ARGS")
        {
            Description = "What pip installs, passed to pip install unchanged: requirements, -r FILE, project directories, wheels, "
                + "--no-index, --find-links DIR, --constraint FILE (after -- when one could be read as a xar option: pip's -c is --constraint)",
            Arity = ArgumentArity.ZeroOrMore,
        };
        var consoleScript = new Option<string?>("--console-script") { HelpName = "NAME", Description = "Start the console script NAME that an installed distribution declares" };
        var entryPoint = new Option<string?>("--entry-point") { HelpName = "MODULE[:FUNC]", Description = "Start MODULE as __main__ (as python -m), or call MODULE:FUNC (its return is the exit status)" };
        var python = new Option<string?>("--python") { HelpName = "PYTHON", Description = "The interpreter to build for and run with (default: python3); the file then needs its pythonX.Y on PATH" };
        var bundle = new Option<bool>("--bundle-python") { Description = "Put the interpreter into the file (executable, standard library without tests, lib-dynload, shared libraries): it runs where no Python is installed" };
        var options = new PackOptions();
        var command = new Command("python", "Pack a Python application and its dependencies (installed by pip) into a XAR file, every module precompiled. SOURCE_DATE_EPOCH sets the image time, VERSION and the time of every installed file, for reproducible output.")
        {
            pipArgs, consoleScript, entryPoint, python, bundle,
        };
        options.AddTo(command);
        // pip's own options (--no-index, --find-links DIR...) are not xar's: System.CommandLine gives the tokens
        // that match no option to PIP_ARGS, in order, and everything after "--".
        command.SetAction(parse => FrontEndException.Guard(() =>
        {
            string? scriptName = parse.GetValue(consoleScript);
            string? entryText = parse.GetValue(entryPoint);
            if ((scriptName is null) == (entryText is null))
                throw new UsageException(scriptName is null
                    ? "say what the app starts: --console-script NAME or --entry-point MODULE[:FUNC]"
                    : "--console-script and --entry-point exclude each other (give one)");
            PythonEntryPoint? entry = null;
            if (entryText is not null)
                entry = PythonEntryPoint.TryParse(entryText) ?? throw new UsageException($"--entry-point \"{entryText}\" is not MODULE or MODULE:FUNC (dotted Python names)");
            string[] pip = parse.GetValue(pipArgs) ?? [];
            if (pip.Length == 0)
                throw new UsageException("nothing to install: give pip's arguments (a requirement, -r FILE, a project directory, a wheel)");
            PipInstall.CheckArguments(pip);
            options.Check(parse);
            foreach (string input in PipInstall.NamedPaths(pip))
                options.CheckOutputIsNotInput(parse, input, "pip's input " + input);
            foreach (var (input, namedIn) in PipRequirementFiles.NamedPaths(pip))
                options.CheckOutputIsNotInput(parse, input, $"pip's input {input} (named in {namedIn})");
            long? epoch = SourceDateEpochTimes.Read();
            bool quiet = parse.GetValue(options.Quiet);
            using var staging = new StagingDirectory("python");
            var cancel = staging.Cancellation;
            var interpreter = PythonInterpreter.Find(parse.GetValue(python), cancel);
            if (!interpreter.HasPip)
                throw new FrontEndException(null, $"{interpreter.Program} has no pip ({interpreter.Program} -m pip): install it (Debian: apt-get install python3-pip)");
            options.CheckNotExcluded(parse, [$"{PythonLauncherFiles.Directory}/{PythonLauncherFiles.BootModule(interpreter)}", PythonLauncherFiles.SiteDirectory,
                .. parse.GetValue(bundle) ? BundledPython.Needed(interpreter) : []]);
            string root = staging.CreateImageRoot();
            string site = Path.Combine(root, PythonLauncherFiles.SiteDirectory);
            PipInstall.Run(interpreter, site, pip, quiet, cancel);
            EditableInstalls.Refuse(site);
            entry ??= PythonEntryPoint.FromConsoleScript(site, scriptName!);
            CheckEntry(interpreter, site, entry, scriptName, cancel);
            (string Executable, bool Libraries)? bundled = parse.GetValue(bundle) ? BundledPython.Copy(interpreter, root, quiet, cancel) : null;
            PythonLauncherFiles.Write(root, interpreter, entry, bundled?.Executable, bundled?.Libraries ?? false);
            Compile(interpreter, root, bundled is null ? null : $"{BundledPython.Directory}/lib/{Path.GetFileName(interpreter.StandardLibrary.TrimEnd('/'))}", quiet, cancel);
            StagingDirectory.OpenToEveryUser(root); // pip's and the compiler's files were made under the umask
            if (epoch is long seconds)
                SourceDateEpochTimes.Clamp(root, seconds);
            cancel.ThrowIfCancellationRequested();
            return options.Pack(parse, root, new XarWriterOptions { ExecPath = PythonLauncherFiles.RunScript });
        }));
        return command;
    }

    /// <summary>The entry point's module must be importable from the image (and FUNC defined in it, where its source says).</summary>
    private static void CheckEntry(PythonInterpreter python, string site, PythonEntryPoint entry, string? scriptName, CancellationToken cancel)
    {
        string[] args = ["-I", "-S", "-B", "-c", PythonHelperScripts.CheckEntry, site, entry.Module, .. entry.Function is null ? Array.Empty<string>() : [entry.Function]];
        var result = ToolProcess.Run(python.Program, args, null, cancel);
        if (result.Succeeded)
            return;
        string what = scriptName is null ? $"--entry-point {entry}" : $"--console-script {scriptName} ({entry})";
        if (result.ExitCode == 3)
            throw new UsageException($"{what}: {result.StandardOutput.Trim()} in what pip installed");
        throw new FrontEndException(null, $"{what}: checking it failed: {PipErrors.Line(result)}");
    }

    /// <summary>Every .py of the image compiled by the interpreter that will run it (<see cref="PythonHelperScripts.Compile"/>).</summary>
    private static void Compile(PythonInterpreter python, string root, string? bundledStdlib, bool quiet, CancellationToken cancel)
    {
        string[] args = ["-I", "-S", "-B", "-c", PythonHelperScripts.Compile, root, PythonLauncherFiles.SiteDirectory, PythonLauncherFiles.Directory,
            .. bundledStdlib is null ? Array.Empty<string>() : [bundledStdlib]];
        var result = ToolProcess.Run(python.Program, args, null, cancel);
        if (!result.Succeeded)
            throw new FrontEndException(null, "compiling the modules failed: " + PipErrors.Line(result));
        var failed = result.StandardOutput.Split('\n').Where(l => l.StartsWith("failed ", StringComparison.Ordinal)).Select(l => l["failed ".Length..]).ToList();
        if (failed.Count > 0 && !quiet)
            Console.Error.WriteLine($"xar: warning: {failed.Count} file(s) do not compile with {python.Name} and stay source only (Python compiles them at every import): {string.Join(", ", failed.Take(3))}{(failed.Count > 3 ? ", ..." : "")}");
    }
}
