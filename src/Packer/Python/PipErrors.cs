using Xar.Packer.Cli;

namespace Xar.Packer.Python;

/// <summary>What pip (or the interpreter) said went wrong, on one line.</summary>
internal static class PipErrors
{
    /// <summary>
    /// pip's "ERROR: ..." lines without the prefix, joined by "; ", else the last line of standard error, else of
    /// standard output, else the exit status.
    /// </summary>
    public static string Line(ToolProcess.Result result)
    {
        string[] errors = [.. result.Lines.Select(l => l.Trim()).Where(l => l.StartsWith("ERROR: ", StringComparison.Ordinal)).Select(l => l["ERROR: ".Length..]).Distinct()];
        if (errors.Length > 0)
            return string.Join("; ", errors);
        return result.StandardError.Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries).LastOrDefault()
            ?? result.Lines.LastOrDefault()?.Trim()
            ?? $"exit status {result.ExitCode}";
    }
}
