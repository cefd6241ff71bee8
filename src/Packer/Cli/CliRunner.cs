using Xar.SquashFs.Format;

namespace Xar.Packer.Cli;

/// <summary>Exit statuses of every `xar` command (DESIGN.md).</summary>
public static class ExitCodes
{
    public const int Success = 0;
    /// <summary>Failure while working: I/O, a tool missing.</summary>
    public const int Failure = 1;
    /// <summary>Bad usage or bad input: not an archive, a corrupt image, an option out of range.</summary>
    public const int BadInput = 2;
    /// <summary>
    /// Standard output was a pipe whose reader went away (EPIPE), as in `xar cat … | head -c1`: no message,
    /// and the status a shell shows for a tool killed by SIGPIPE (128 + 13). xar exits with it rather than
    /// raising the signal: the same status in a shell or with pipefail, and the runtime shuts down as usual
    /// (under the JIT a signal death leaves the runtime's diagnostic pipes in $TMPDIR).
    /// </summary>
    public const int BrokenPipe = 128 + 13;
}

/// <summary>Bad usage or bad input found by a command (exit 2), with the file it concerns.</summary>
public sealed class UsageException(string message, string? file = null) : Exception(message)
{
    public string? File { get; } = file;
}

/// <summary>
/// Runs a command body and turns every failure into one line on stderr,
/// <c>xar: &lt;file&gt;: &lt;what went wrong&gt;</c>, and the DESIGN exit status; never a stack trace.
/// </summary>
public static class CliRunner
{
    public static int Run(string? file, Func<int> body)
    {
        try
        {
            return body();
        }
        catch (BrokenPipeException)
        {
            return ExitCodes.BrokenPipe;
        }
        catch (UsageException e)
        {
            return Fail(e.File ?? file, e.Message, ExitCodes.BadInput);
        }
        catch (InvalidArchiveException e)
        {
            return Fail(file, e.Message, ExitCodes.BadInput);
        }
        catch (FileNotFoundException e)
        {
            return Fail(e.FileName ?? file, "no such file", ExitCodes.BadInput);
        }
        catch (DirectoryNotFoundException e)
        {
            return Fail(file, e.Message, ExitCodes.BadInput);
        }
        catch (ArgumentException e)
        {
            // The library's argument checks (e.g. a PATH with ".." given to extract) are bad usage.
            return Fail(file, e.Message, ExitCodes.BadInput);
        }
        catch (UnauthorizedAccessException e)
        {
            return Fail(file, e.Message, ExitCodes.Failure);
        }
        catch (IOException e)
        {
            return Fail(file, e.Message, ExitCodes.Failure);
        }
        catch (OperationCanceledException)
        {
            return Fail(file, "interrupted", ExitCodes.Failure);
        }
    }

    public static int Fail(string? file, string message, int exitCode)
    {
        message = message.ReplaceLineEndings(" ").Trim();
        Console.Error.WriteLine(file is null ? $"xar: {message}" : $"xar: {file}: {message}");
        return exitCode;
    }
}
