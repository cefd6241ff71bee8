using System.CommandLine;
using Xar.Distribution;
using Xar.Packer.Cli;
using Xar.Runtime;

namespace Xar.Packer.Commands;

/// <summary>What `xar push` and `xar pull` share: their common options, credentials, and the one-line errors.</summary>
internal static class RegistryCommand
{
    public static Option<bool> PlainHttpOption() => new("--plain-http")
    {
        Description = $"talk HTTP instead of HTTPS: only to a registry on loopback or one listed in {PlainHttpPolicy.Variable}",
    };

    public static Option<bool> VerboseOption() => new("--verbose", "-v") { Description = "print each HTTP request (method, path, status; never a header)" };

    public static ImageReference ParseReference(string text) => ImageReference.Parse(text);

    public static RegistryClientOptions ClientOptions(ImageReference reference, bool plainHttp, bool verbose) => new()
    {
        PlainHttp = plainHttp,
        Credentials = DockerConfig.Find(reference.Registry),
        Log = verbose ? line => Console.Error.WriteLine("xar: " + line) : null,
        Notice = line => Console.Error.WriteLine("xar: " + line),
        ChunkSize = ChunkSize(),
        IdleTimeout = IdleTimeout(),
    };

    private static TimeSpan IdleTimeout()
    {
        string? text = Environment.GetEnvironmentVariable(RegistryClientOptions.TimeoutVariable);
        if (string.IsNullOrEmpty(text))
            return RegistryClientOptions.DefaultIdleTimeout;
        if (!int.TryParse(text, System.Globalization.NumberStyles.None, System.Globalization.CultureInfo.InvariantCulture, out int seconds) || seconds is < 0 or > 86400)
            throw new UsageException($"{RegistryClientOptions.TimeoutVariable}={text}: not a number of seconds from 0 (no limit) to 86400");
        return seconds == 0 ? Timeout.InfiniteTimeSpan : TimeSpan.FromSeconds(seconds);
    }

    private static long ChunkSize()
    {
        string? text = Environment.GetEnvironmentVariable(RegistryClientOptions.ChunkVariable);
        if (string.IsNullOrEmpty(text))
            return RegistryClientOptions.DefaultChunkSize;
        if (!int.TryParse(text, System.Globalization.NumberStyles.None, System.Globalization.CultureInfo.InvariantCulture, out int mib) || mib is < 1 or > 4096)
            throw new UsageException($"{RegistryClientOptions.ChunkVariable}={text}: not a number of MiB from 1 to 4096");
        return (long)mib << 20;
    }

    /// <summary>Runs a push or pull body: registry failures are one line about <paramref name="reference"/> (exit 1, or 2 for bad input).</summary>
    public static int Run(string reference, string? file, Func<int> body) => CliRunner.Run(file, () =>
    {
        try
        {
            return body();
        }
        catch (RegistryException e)
        {
            return CliRunner.Fail(e.File ?? reference, e.Message, e.BadInput ? ExitCodes.BadInput : ExitCodes.Failure);
        }
        catch (XarLaunchException e)
        {
            return CliRunner.Fail(reference, e.Message, ExitCodes.Failure);
        }
    });
}
