namespace Xar.Packer.Cli;

/// <summary>
/// A front-end's tool failed on the user's project (a build error, npm ci refused the lock file, a tool
/// missing): one line, naming the file or folder it concerns, exit 1. Bad input is <see cref="UsageException"/>.
/// </summary>
public sealed class FrontEndException(string? file, string message) : Exception(message)
{
    public string? File { get; } = file;

    /// <summary>Runs a front-end's body as <see cref="CliRunner.Run"/> does, this exception included.</summary>
    public static int Guard(Func<int> body) => CliRunner.Run(null, () =>
    {
        try
        {
            return body();
        }
        catch (FrontEndException e)
        {
            return CliRunner.Fail(e.File, e.Message, ExitCodes.Failure);
        }
    });
}
