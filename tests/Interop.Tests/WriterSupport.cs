using Xar.Tests;

namespace Xar.Interop.Tests;

/// <summary>Runs the `xar` program: $XAR_BIN/xar when set (make test), else the xar.dll built beside the tests.</summary>
internal static class XarProgram
{
    public static ProcessResult Run(IReadOnlyDictionary<string, string?>? environment, params string[] args) =>
        RunIn(null, environment, args);

    /// <summary>Runs xar in <paramref name="workingDirectory"/> (null: ours).</summary>
    public static ProcessResult RunIn(string? workingDirectory, IReadOnlyDictionary<string, string?>? environment, params string[] args)
    {
        string? bin = Environment.GetEnvironmentVariable("XAR_BIN");
        var options = bin is not null && File.Exists(Path.Combine(bin, "xar"))
            ? new RunOptions(Path.Combine(bin, "xar"), args)
            : new RunOptions("dotnet", [Path.Combine(AppContext.BaseDirectory, "xar.dll"), .. args]);
        return TestEnv.Run(options with { Environment = environment, WorkingDirectory = workingDirectory, TimeoutMs = 900_000 });
    }

    public static ProcessResult Run(params string[] args) => Run(null, args);

    public static void Pack(string source, string output, params string[] options) =>
        Run(["pack", source, "-o", output, "--quiet", .. options]).EnsureSuccess($"xar pack {string.Join(' ', options)}");
}

/// <summary>Serialises the writer's interop tests: they mount images and are heavy on 2 cores.</summary>
[CollectionDefinition("writer-interop", DisableParallelization = true)]
public sealed class WriterInteropCollection;
