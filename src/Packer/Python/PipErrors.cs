using Xar.Packer.Cli;

namespace Xar.Packer.Python;

/// <summary>What pip (or the interpreter) said went wrong, on one line.</summary>
internal static class PipErrors
{
    private const string SubprocessFailed = " did not run successfully.", OutputEnd = "[end of output]";

    /// <summary>
    /// The cause pip names, from what pip 22 and later print. A subprocess that failed (setup.py, a build backend, the
    /// pip that installs build dependencies) is shown by pip in a box, "× WHAT did not run successfully." with its output
    /// up to "[end of output]", and pip's own lines then only say that it failed ("Failed building wheel for X", or
    /// nothing but "hint: See above for details."): the cause is in the box, a compiler's first error, else its last line.
    /// Otherwise pip's "ERROR: ..." lines without the prefix, joined by "; ", with what pip says beside them where that is
    /// the cause: a "Hint:" after an invalid requirement (the path that does not exist), a warning that a file named is not
    /// there, the conflict behind ResolutionImpossible (instead of its "for help visit" line), the exception behind
    /// "Exception:" (pip itself failed). Else the last line of standard error, else of standard output, else the exit status.
    /// </summary>
    public static string Line(ToolProcess.Result result)
    {
        string[] lines = [.. result.Lines.Select(l => l.Trim())];
        string[] errors = Errors(lines);
        if (FailedSubprocess(lines) is { } failed)
        {
            // "Failed building wheel for X" names the distribution; else the project pip was processing last.
            string? subject = errors.FirstOrDefault(e => e.StartsWith("Failed building wheel for ", StringComparison.Ordinal))
                ?? lines.LastOrDefault(l => l.StartsWith("Processing ", StringComparison.Ordinal))?["Processing ".Length..];
            return (subject is null ? "" : subject + ": ") + failed;
        }
        if (errors.Length > 0)
        {
            var parts = new List<string>();
            // A file named that is not there: pip warns, then fails on the name ("x.whl is not a valid wheel filename").
            if (!errors.Any(e => e.Contains("No such file or directory", StringComparison.Ordinal)))
                parts.AddRange(lines.Where(l => l.StartsWith("WARNING: ", StringComparison.Ordinal) && l.Contains("but the file does not exist", StringComparison.Ordinal))
                    .Select(l => l["WARNING: ".Length..]).Distinct());
            foreach (string error in errors)
            {
                if (error.StartsWith("ResolutionImpossible:", StringComparison.Ordinal))
                {
                    // "Cannot install A and B because these package versions have conflicting dependencies." says which, not why.
                    if (ConflictCauses(lines) is { } causes)
                    {
                        if (parts.Count > 0)
                            parts[^1] = parts[^1].TrimEnd('.') + ": " + causes;
                        else
                            parts.Add("conflicting dependencies: " + causes);
                    }
                }
                else if (error == "Exception:")
                    parts.Add("pip failed: " + (result.StandardError.Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries).LastOrDefault() ?? "an exception"));
                else if (error.StartsWith("No matching distribution found for ", StringComparison.Ordinal) && errors.Any(e => e.StartsWith("Could not find a version that satisfies the requirement ", StringComparison.Ordinal)))
                    continue; // says again what the line before said
                else
                    parts.Add(error);
            }
            parts.AddRange(lines.Where(l => l.StartsWith("Hint: ", StringComparison.Ordinal)).Select(l => l["Hint: ".Length..]).Distinct());
            if (parts.Count > 0)
                return string.Join("; ", parts);
        }
        return result.StandardError.Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries).LastOrDefault()
            ?? result.Lines.LastOrDefault()?.Trim()
            ?? $"exit status {result.ExitCode}";
    }

    /// <summary>pip's "ERROR: " lines (trimmed: those of a pip run inside pip are indented), without the prefix, each once.</summary>
    private static string[] Errors(IEnumerable<string> lines) =>
        [.. lines.Where(l => l.StartsWith("ERROR: ", StringComparison.Ordinal)).Select(l => l["ERROR: ".Length..].Trim()).Where(l => l.Length > 0).Distinct()];

    /// <summary>
    /// The first subprocess pip shows failed with its output, as "WHAT failed: CAUSE": of its output, the first compiler
    /// error ("file.c:1:2: error: ..."), else pip's own error lines (a pip that installed build dependencies), else the
    /// last line (a Python exception, setuptools' "error: ..."). Null when there is none.
    /// </summary>
    private static string? FailedSubprocess(string[] lines)
    {
        int header = Array.FindIndex(lines, l => l.StartsWith("× ", StringComparison.Ordinal) && l.EndsWith(SubprocessFailed, StringComparison.Ordinal));
        if (header < 0)
            return null;
        string what = lines[header]["× ".Length..^SubprocessFailed.Length];
        int start = Array.FindIndex(lines, header, l => l.StartsWith("╰─> [", StringComparison.Ordinal) && l.EndsWith(" of output]", StringComparison.Ordinal));
        int end = start < 0 ? -1 : Array.FindIndex(lines, start, l => l == OutputEnd);
        if (end < 0)
            return what + " failed"; // its output went elsewhere (pip -v shows it as it comes)
        string[] output = lines[(start + 1)..end];
        string? cause = output.FirstOrDefault(l => l.Contains(": error: ", StringComparison.Ordinal) || l.Contains(": fatal error: ", StringComparison.Ordinal));
        if (cause is null && Errors(output) is { Length: > 0 } errors)
            cause = string.Join("; ", errors.Where(e => !(e.StartsWith("No matching distribution found for ", StringComparison.Ordinal) && errors.Length > 1)));
        cause ??= output.LastOrDefault();
        return cause is null ? what + " failed" : $"{what} failed: {cause}";
    }

    /// <summary>The lines after pip's "The conflict is caused by:" up to the next blank line, joined by "; ".</summary>
    private static string? ConflictCauses(string[] lines)
    {
        int at = Array.IndexOf(lines, "The conflict is caused by:");
        if (at < 0)
            return null;
        // Blank lines are not in the list (ToolProcess.Result.Lines leaves them out): the advice after them begins "To fix this".
        var causes = lines.Skip(at + 1).TakeWhile(l => !l.StartsWith("To fix this", StringComparison.Ordinal) && !l.StartsWith("ERROR: ", StringComparison.Ordinal)).ToList();
        return causes.Count == 0 ? null : string.Join("; ", causes);
    }
}
