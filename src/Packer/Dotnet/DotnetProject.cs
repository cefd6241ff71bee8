using System.Runtime.InteropServices;
using Xar.Packer.Cli;

namespace Xar.Packer.Dotnet;

/// <summary>What <c>xar dotnet</c> is given: the project file (PROJECT, or the one in the folder PROJECT), and the RID.</summary>
public static class DotnetProject
{
    private static readonly string[] Extensions = [".csproj", ".fsproj", ".vbproj"];

    /// <summary>The project file's full path; bad input (none, several, not a project) is a <see cref="UsageException"/>.</summary>
    public static string Resolve(string project)
    {
        if (File.Exists(project))
        {
            if (!Extensions.Contains(Path.GetExtension(project), StringComparer.OrdinalIgnoreCase))
                throw new UsageException("is not a project file (give a .csproj or .fsproj, or the folder that holds it)", project);
            return Path.GetFullPath(project);
        }
        if (!Directory.Exists(project))
            throw new UsageException("no such project file or folder", project);
        var found = Directory.EnumerateFiles(project)
            .Where(f => Extensions.Contains(Path.GetExtension(f), StringComparer.OrdinalIgnoreCase))
            .Select(Path.GetFileName)
            .Order(StringComparer.Ordinal)
            .ToList();
        return found.Count switch
        {
            0 => throw new UsageException("no .csproj or .fsproj in this folder", project),
            1 => Path.GetFullPath(Path.Combine(project, found[0]!)),
            _ => throw new UsageException($"holds {found.Count} projects ({string.Join(", ", found)}): name the one to pack", project),
        };
    }

    /// <summary>This machine's RID, as the SDK names it: linux-x64, linux-arm64, ...</summary>
    public static string MachineRid() => "linux-" + RuntimeInformation.OSArchitecture.ToString().ToLowerInvariant();

    /// <summary>A XAR runs on Linux only: linux-x64, linux-musl-arm64, ... (exit 2 otherwise).</summary>
    public static void CheckRid(string rid)
    {
        if (!rid.StartsWith("linux-", StringComparison.Ordinal) || rid.Length == "linux-".Length)
            throw new UsageException($"--rid {rid}: a XAR runs on Linux; give a RID that starts with linux- (linux-x64, linux-arm64, linux-musl-x64)");
    }
}
