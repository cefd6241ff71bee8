using System.Diagnostics;
using System.Text;

namespace Xar.Packer.Cli;

/// <summary>
/// Runs a build tool a front-end needs (dotnet, npm, ldd) to the end with its output captured, and stops it
/// (its whole process tree) when the work is cancelled by SIGINT/SIGTERM (<see cref="StagingDirectory"/>).
/// </summary>
public static class ToolProcess
{
    public sealed record Result(int ExitCode, string StandardOutput, string StandardError)
    {
        public bool Succeeded => ExitCode == 0;

        /// <summary>Standard output, then standard error: where a tool's error lines may be.</summary>
        public IEnumerable<string> Lines => (StandardOutput + "\n" + StandardError).Split('\n').Select(l => l.TrimEnd('\r')).Where(l => l.Trim().Length > 0);
    }

    /// <summary>The tool's full path found on PATH, or null.</summary>
    public static string? Find(string name)
    {
        if (name.Contains('/'))
            return File.Exists(name) ? Path.GetFullPath(name) : null;
        foreach (string dir in (Environment.GetEnvironmentVariable("PATH") ?? "").Split(':', StringSplitOptions.RemoveEmptyEntries))
        {
            string candidate = Path.Combine(dir, name);
            if (File.Exists(candidate))
                return candidate;
        }
        return null;
    }

    /// <exception cref="OperationCanceledException">Cancelled: the tool was killed.</exception>
    /// <exception cref="IOException">The tool could not be started.</exception>
    public static Result Run(string program, IEnumerable<string> arguments, string? workingDirectory, CancellationToken cancel,
        IReadOnlyDictionary<string, string>? environment = null)
    {
        cancel.ThrowIfCancellationRequested();
        var start = new ProcessStartInfo(program)
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            RedirectStandardInput = true,
            UseShellExecute = false,
            WorkingDirectory = workingDirectory ?? Environment.CurrentDirectory,
            StandardOutputEncoding = Encoding.UTF8,
            StandardErrorEncoding = Encoding.UTF8,
        };
        foreach (string argument in arguments)
            start.ArgumentList.Add(argument);
        if (environment is not null)
            foreach (var (name, value) in environment)
                start.Environment[name] = value;
        Process process;
        try
        {
            process = Process.Start(start) ?? throw new IOException($"cannot start {program}");
        }
        catch (System.ComponentModel.Win32Exception e)
        {
            throw new IOException($"cannot start {program}: {e.Message}", e);
        }
        using (process)
        {
            process.StandardInput.Close(); // a tool that asks a question gets end of input, not the user's terminal
            var output = process.StandardOutput.ReadToEndAsync(CancellationToken.None);
            var error = process.StandardError.ReadToEndAsync(CancellationToken.None);
            using (cancel.Register(() =>
            {
                try
                {
                    process.Kill(entireProcessTree: true);
                }
                catch (InvalidOperationException)
                {
                }
            }))
            {
                process.WaitForExit();
            }
            string stdout = output.GetAwaiter().GetResult(), stderr = error.GetAwaiter().GetResult();
            cancel.ThrowIfCancellationRequested();
            return new Result(process.ExitCode, stdout, stderr);
        }
    }
}
