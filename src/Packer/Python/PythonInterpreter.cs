using Xar.Packer.Cli;

namespace Xar.Packer.Python;

/// <summary>The interpreter `xar python` builds for (<c>--python</c>, default <c>python3</c>), as it describes itself.</summary>
internal sealed class PythonInterpreter
{
    private PythonInterpreter(string program, IReadOnlyDictionary<string, string> facts)
    {
        Program = program;
        Version = facts["version"];
        Name = facts["name"];
        CacheTag = facts["cache_tag"];
        Executable = facts["executable"];
        HasPip = facts["pip"] == "1";
        StandardLibrary = facts["stdlib"];
        DynamicModules = facts["dynload"];
    }

    /// <summary>How xar runs it at pack time: the path given or found on PATH.</summary>
    public string Program { get; }

    /// <summary>"3.11".</summary>
    public string Version { get; }

    /// <summary>The command the target machine must have: "python3.11" (with ABI flags, as "python3.13t").</summary>
    public string Name { get; }

    /// <summary>sys.implementation.cache_tag, "cpython-311": the name part of its .pyc files.</summary>
    public string CacheTag { get; }

    /// <summary>The executable, links resolved.</summary>
    public string Executable { get; }

    public bool HasPip { get; }

    /// <summary>The standard library's directory (links resolved).</summary>
    public string StandardLibrary { get; }

    /// <summary>lib-dynload (the standard library's extension modules), or "" when it has none.</summary>
    public string DynamicModules { get; }

    /// <summary>
    /// Finds and asks the interpreter. A --python that does not exist or is no CPython 3.8+ is bad input (exit 2);
    /// the default python3 missing is a tool missing (exit 1).
    /// </summary>
    public static PythonInterpreter Find(string? requested, CancellationToken cancel)
    {
        string name = requested ?? "python3";
        string? program = name.Contains('/') ? name : FindOnPath(name);
        if (program is null)
        {
            if (requested is not null)
                throw new UsageException("--python: no such command on PATH", requested);
            throw new FrontEndException(null, "python3 is not on PATH: install Python 3 (with pip), or give the interpreter with --python PATH");
        }
        if (Directory.Exists(program))
            throw new UsageException("--python: is a directory, not an interpreter", program);
        if (!File.Exists(program))
            throw new UsageException("--python: no such file", program);
        ToolProcess.Result result;
        try
        {
            result = ToolProcess.Run(program, ["-c", PythonHelperScripts.Probe], null, cancel);
        }
        catch (IOException e)
        {
            throw new UsageException($"--python: cannot run it ({e.Message})", program);
        }
        var facts = new Dictionary<string, string>(StringComparer.Ordinal);
        foreach (string line in result.StandardOutput.Split('\n'))
            if (line.IndexOf('=') is int at and > 0)
                facts[line[..at]] = line[(at + 1)..];
        string[] needed = ["version", "name", "implementation", "cache_tag", "executable", "pip", "stdlib", "dynload"];
        if (result.ExitCode != 0 || needed.Any(k => !facts.ContainsKey(k)))
            throw new UsageException("is not a Python 3 interpreter xar can use (it did not answer: " + PipErrors.Line(result) + ")", program);
        // Both go into the entrypoint script and file names: letters, digits, '.', '_' and '-' only.
        if (!IsPlainName(facts["name"]) || !IsPlainName(facts["cache_tag"]))
            throw new UsageException($"--python: its name \"{facts["name"]}\" or cache tag \"{facts["cache_tag"]}\" is not a plain file name", program);
        var interpreter = new PythonInterpreter(program, facts);
        if (facts["implementation"] != "cpython" || !System.Version.TryParse(interpreter.Version, out var version) || version < new System.Version(3, 8))
            throw new UsageException($"is {facts["implementation"]} {interpreter.Version}; xar python needs CPython 3.8 or later", program);
        return interpreter;
    }

    private static bool IsPlainName(string text) => text.Length > 0 && text.All(c => char.IsAsciiLetterOrDigit(c) || c is '.' or '_' or '-');

    private static string? FindOnPath(string name)
    {
        foreach (string directory in (Environment.GetEnvironmentVariable("PATH") ?? "").Split(':', StringSplitOptions.RemoveEmptyEntries))
        {
            string candidate = Path.Combine(directory, name);
            if (File.Exists(candidate) && !OperatingSystem.IsWindows() && (File.GetUnixFileMode(candidate) & (UnixFileMode.UserExecute | UnixFileMode.GroupExecute | UnixFileMode.OtherExecute)) != 0)
                return candidate;
        }
        return null;
    }
}
