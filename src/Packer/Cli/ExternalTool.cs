using System.ComponentModel;
using System.Diagnostics;

namespace Xar.Packer.Cli;

/// <summary>What a tool run by <see cref="ExternalTool"/> printed and how it ended.</summary>
public sealed record ExternalToolResult(int ExitCode, string StandardOutput, string StandardError)
{
    /// <summary>
    /// The line that says what went wrong, for a one-line error: the "ERROR: ..." lines (pip's form, without the
    /// prefix) joined by "; ", else the last line of standard error, else of standard output; null when the tool
    /// said nothing.
    /// </summary>
    public string? ErrorLine()
    {
        string[] lines = (StandardError + "\n" + StandardOutput).Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);
        string[] errors = [.. lines.Where(l => l.StartsWith("ERROR: ", StringComparison.Ordinal)).Select(l => l["ERROR: ".Length..]).Distinct()];
        if (errors.Length > 0)
            return string.Join("; ", errors);
        return StandardError.Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries).LastOrDefault()
            ?? lines.LastOrDefault();
    }
}

/// <summary>
/// Runs a tool a front-end needs (pip, an interpreter, ldd) to its end, its output captured, standard input
/// empty (a pipe closed at once). Cancelling (SIGINT, SIGTERM: <see cref="StagingDirectory.Token"/>) kills it and its children
/// and throws <see cref="OperationCanceledException"/>.
/// </summary>
public static class ExternalTool
{
    /// <exception cref="FileNotFoundException">The program cannot be started (no such file, not executable).</exception>
    public static ExternalToolResult Run(string program, IEnumerable<string> arguments, CancellationToken cancel,
        IReadOnlyDictionary<string, string?>? environment = null)
    {
        var start = new ProcessStartInfo(program)
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            RedirectStandardInput = true,
            UseShellExecute = false,
        };
        foreach (string argument in arguments)
            start.ArgumentList.Add(argument);
        foreach (var (name, value) in environment ?? new Dictionary<string, string?>())
        {
            if (value is null)
                start.Environment.Remove(name);
            else
                start.Environment[name] = value;
        }
        cancel.ThrowIfCancellationRequested();
        Process process;
        try
        {
            process = Process.Start(start) ?? throw new FileNotFoundException("cannot be started", program);
        }
        catch (Win32Exception e)
        {
            throw new FileNotFoundException(e.Message, program);
        }
        using (process)
        {
            process.StandardInput.Close();
            var output = process.StandardOutput.ReadToEndAsync(CancellationToken.None);
            var error = process.StandardError.ReadToEndAsync(CancellationToken.None);
            using (cancel.Register(() => Kill(process)))
                process.WaitForExit();
            cancel.ThrowIfCancellationRequested();
            return new ExternalToolResult(process.ExitCode, output.Result, error.Result);
        }
    }

    private static void Kill(Process process)
    {
        try
        {
            process.Kill(entireProcessTree: true);
        }
        catch (InvalidOperationException)
        {
            // It has ended already.
        }
    }
}
