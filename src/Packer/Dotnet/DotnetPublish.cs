using Xar.Packer.Cli;

namespace Xar.Packer.Dotnet;

/// <summary>
/// <c>dotnet publish</c> of the project, self-contained for the RID, in Release, into a staging folder; its
/// bin/ and obj/ go there too (--artifacts-path), so the project's folder gets nothing written into it.
/// </summary>
public static class DotnetPublish
{
    /// <summary>The publish output folder and the project's AssemblyName (the apphost's name in it).</summary>
    public sealed record Output(string Directory, string AssemblyName);

    public static Output Run(string projectFile, string rid, IReadOnlyList<string> extraArguments, StagingDirectory staging, string displayName)
    {
        string dotnet = ToolProcess.Find("dotnet") ?? throw new FrontEndException(null, "dotnet not found on PATH (xar dotnet needs the .NET SDK)");
        string publishDirectory = staging["publish"];
        string[] arguments =
        [
            "publish", projectFile,
            "-c", "Release", "-r", rid, "--self-contained", "true",
            "-o", publishDirectory, "--artifacts-path", staging["artifacts"],
            "-nologo", "-v", "q", "-tl:off",
            // No MSBuild node or compiler server left running after xar has finished.
            "--disable-build-servers",
            // Printed on stdout when the publish succeeds; the build's messages then go to stderr.
            "-getProperty:AssemblyName",
            .. extraArguments,
            // After the user's arguments, so these win (the last -p: of a name does), over the project's settings too:
            // a publish folder of links would pack links to this machine's NuGet cache, and a+rX on hard-linked files
            // (StagingDirectory.OpenToEveryUser) would widen the modes of the cache's own files.
            .. PlainCopies,
        ];
        var result = ToolProcess.Run(dotnet, arguments, null, staging.Cancellation, new Dictionary<string, string> { ["DOTNET_NOLOGO"] = "1" });
        if (!result.Succeeded)
            throw new FrontEndException(displayName, "dotnet publish failed: " + FirstError(result, Path.GetDirectoryName(projectFile)!));
        string assemblyName = result.StandardOutput.Trim();
        if (assemblyName.Length == 0 || assemblyName.Contains('\n') || assemblyName.Contains('/'))
            throw new FrontEndException(displayName, $"dotnet publish did not say the project's AssemblyName (got \"{assemblyName.ReplaceLineEndings(" ")}\")");
        return new Output(publishDirectory, assemblyName);
    }

    /// <summary>MSBuild properties that make the publish copy every file, never link it to where it came from.</summary>
    internal static readonly string[] PlainCopies =
        ["-p:CreateSymbolicLinksForPublishFilesIfPossible=false", "-p:CreateHardLinksForPublishFilesIfPossible=false"];

    /// <summary>
    /// What the app needs to start, those of them the publish made ('/'-separated paths in the image): the apphost,
    /// the main assembly with its runtimeconfig.json and deps.json, and the runtime the apphost loads (hostfxr,
    /// hostpolicy, coreclr, its JIT and System.Private.CoreLib). A single-file publish has most of them inside the
    /// apphost, and names that are not there cannot be left out.
    /// </summary>
    public static IEnumerable<string> NeededToStart(Output published) =>
        ((string[])[published.AssemblyName, published.AssemblyName + ".dll", published.AssemblyName + ".runtimeconfig.json", published.AssemblyName + ".deps.json",
            "libhostfxr.so", "libhostpolicy.so", "libcoreclr.so", "libclrjit.so", "System.Private.CoreLib.dll"])
        .Where(name => File.Exists(System.IO.Path.Combine(published.Directory, name)));

    /// <summary>
    /// The first error of the build (MSBuild's "FILE(L,C): error CODE: text [PROJECT]"), the project's folder and the
    /// trailing project name dropped; else the last line the tool printed.
    /// </summary>
    internal static string FirstError(ToolProcess.Result result, string projectDirectory)
    {
        var lines = result.Lines.ToList();
        string line = lines.FirstOrDefault(l => l.Contains(": error ", StringComparison.Ordinal))
            ?? lines.LastOrDefault()
            ?? $"exit status {result.ExitCode}";
        line = line.Trim();
        if (line.EndsWith(']') && line.LastIndexOf(" [", StringComparison.Ordinal) is int bracket and > 0)
            line = line[..bracket];
        string prefix = projectDirectory.TrimEnd('/') + "/";
        return line.StartsWith(prefix, StringComparison.Ordinal) ? line[prefix.Length..] : line;
    }
}
