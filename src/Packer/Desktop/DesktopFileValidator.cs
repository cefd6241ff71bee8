using System.Diagnostics;

namespace Xar.Packer.Desktop;

/// <summary>What checking a desktop file found: why it is refused (null: accepted), remarks that do not refuse it, and who checked.</summary>
public sealed record class DesktopValidation(string? Error, IReadOnlyList<string> Warnings, bool ByValidator);

/// <summary>
/// Checks a desktop file as desktop-file-validate (Debian desktop-file-utils) does, by running it when it is
/// on PATH: its verdict (exit status) decides, and its error lines are the reason. Without it, xar makes the
/// checks of <see cref="DesktopEntryCheck"/> only, and says so in a warning.
/// </summary>
public static class DesktopFileValidator
{
    public const string Tool = "desktop-file-validate";

    /// <summary>Checks <paramref name="bytes"/> as a file named <paramref name="fileName"/> (the tool checks the name too).</summary>
    public static DesktopValidation Validate(string fileName, byte[] bytes)
    {
        if (FindTool() is not { } tool)
        {
            string? error = DesktopEntryCheck.FirstError(fileName, bytes);
            return new DesktopValidation(error, [$"{Tool} is not installed (Debian package desktop-file-utils): checked only the required keys, groups and syntax"], ByValidator: false);
        }
        // The tool reads a path: give it a private copy of exactly the bytes that go into the image.
        var directory = Directory.CreateTempSubdirectory("xar-desktop-");
        try
        {
            string copy = Path.Combine(directory.FullName, fileName);
            File.WriteAllBytes(copy, bytes);
            var (status, output) = Run(tool, copy);
            var lines = output.Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries)
                .Select(l => l.StartsWith(copy + ": ", StringComparison.Ordinal) ? l[(copy.Length + 2)..] : l)
                .ToList();
            if (status == 0)
                return new DesktopValidation(null, [.. lines.Select(l => $"{Tool}: {l}")], ByValidator: true);
            // Its fatal errors first: "(will be fatal in the future)" ones do not make it fail.
            var errors = lines.Where(l => l.StartsWith("error:", StringComparison.Ordinal))
                .OrderBy(l => l.Contains("(will be fatal in the future)", StringComparison.Ordinal)).ToList();
            string reason = errors.Count > 0 ? string.Join("; ", errors) : $"exit status {status}" + (lines.Count > 0 ? ": " + string.Join("; ", lines) : "");
            return new DesktopValidation($"{Tool} rejects it: {reason}", [], ByValidator: true);
        }
        finally
        {
            directory.Delete(recursive: true);
        }
    }

    private static string? FindTool()
    {
        foreach (string dir in (Environment.GetEnvironmentVariable("PATH") ?? "").Split(':', StringSplitOptions.RemoveEmptyEntries))
        {
            string candidate = Path.Combine(dir, Tool);
            if (File.Exists(candidate))
                return candidate;
        }
        return null;
    }

    /// <summary>Runs <paramref name="tool"/> on <paramref name="file"/>: its exit status and what it wrote (stdout then stderr).</summary>
    private static (int Status, string Output) Run(string tool, string file)
    {
        var start = new ProcessStartInfo(tool)
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            RedirectStandardInput = true,
            UseShellExecute = false,
        };
        start.ArgumentList.Add("--no-hints");
        start.ArgumentList.Add(file);
        Process process;
        try
        {
            process = Process.Start(start) ?? throw new IOException($"cannot run {tool}");
        }
        catch (System.ComponentModel.Win32Exception e)
        {
            throw new IOException($"cannot run {tool}: {e.Message}");
        }
        using var started = process;
        process.StandardInput.Close();
        var stderr = process.StandardError.ReadToEndAsync();
        string stdout = process.StandardOutput.ReadToEnd();
        process.WaitForExit();
        return (process.ExitCode, stdout + stderr.Result);
    }
}
