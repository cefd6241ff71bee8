using System.Text.Json;
using Xar.Packer.Cli;
using Xar.Posix;

namespace Xar.Packer.Node;

/// <summary>
/// What <c>xar node</c> reads from PROJECT_DIR/package.json: the name and the entrypoint, <c>bin</c> (a path,
/// or names to paths: the one NAME picks, the only one, or the one named as the package) else <c>main</c>.
/// </summary>
public sealed record NodePackage(string Name, string Entry, bool HasDependencies)
{
    /// <summary>Far beyond any real package.json.</summary>
    private const long MaxBytes = 16L << 20;

    public static NodePackage Read(string projectDirectory, string? binName)
    {
        string file = Path.Combine(projectDirectory, "package.json");
        if (!File.Exists(file))
            throw new UsageException(Directory.Exists(projectDirectory) ? "no package.json in this folder" : "no such folder", projectDirectory);
        JsonElement root;
        try
        {
            // Through one checked descriptor: a FIFO or a device named package.json is refused, not waited on or read without end.
            using var document = JsonDocument.Parse(GivenFile.Read(file, "package.json", MaxBytes));
            root = document.RootElement.Clone();
        }
        catch (JsonException e)
        {
            throw new UsageException("not valid JSON: " + e.Message, file);
        }
        if (root.ValueKind != JsonValueKind.Object)
            throw new UsageException("not a package (the JSON is not an object)", file);
        string name = String(root, "name") ?? Path.GetFileName(Path.GetFullPath(projectDirectory).TrimEnd('/'));
        bool hasDependencies = root.TryGetProperty("dependencies", out var deps) && deps.ValueKind == JsonValueKind.Object && deps.EnumerateObject().Any();
        string entry = FindEntry(root, name, binName, file);
        return new NodePackage(name, CheckEntry(projectDirectory, entry, file), hasDependencies);
    }

    private static string FindEntry(JsonElement root, string name, string? binName, string file)
    {
        if (root.TryGetProperty("bin", out var bin))
        {
            // A string bin is named after the package (without its @scope/).
            string unscoped = name.Contains('/') ? name[(name.LastIndexOf('/') + 1)..] : name;
            if (bin.ValueKind == JsonValueKind.String)
            {
                if (binName is not null && binName != unscoped)
                    throw new UsageException($"--bin {binName}: package.json has one bin, {unscoped}", file);
                return bin.GetString()!;
            }
            if (bin.ValueKind == JsonValueKind.Object)
            {
                var bins = bin.EnumerateObject().Where(p => p.Value.ValueKind == JsonValueKind.String).ToDictionary(p => p.Name, p => p.Value.GetString()!, StringComparer.Ordinal);
                string names = string.Join(", ", bins.Keys.Order(StringComparer.Ordinal));
                if (binName is not null)
                    return bins.TryGetValue(binName, out var chosen) ? chosen : throw new UsageException($"--bin {binName}: package.json has no such bin (it has: {names})", file);
                if (bins.Count == 1)
                    return bins.Values.Single();
                if (bins.TryGetValue(unscoped, out var own))
                    return own;
                if (bins.Count > 1)
                    throw new UsageException($"package.json has {bins.Count} bins ({names}): choose one with --bin NAME", file);
            }
        }
        if (binName is not null)
            throw new UsageException($"--bin {binName}: package.json has no bin", file);
        return String(root, "main") ?? throw new UsageException("package.json has neither bin nor main: nothing to run (add \"bin\" or \"main\")", file);
    }

    /// <summary>The entry as a clean path relative to the project, naming a file in it.</summary>
    private static string CheckEntry(string projectDirectory, string entry, string file)
    {
        string relative = Path.GetRelativePath(Path.GetFullPath(projectDirectory), Path.GetFullPath(Path.Combine(projectDirectory, entry)));
        if (Path.IsPathRooted(entry) || relative == ".." || relative.StartsWith("../", StringComparison.Ordinal))
            throw new UsageException($"the entrypoint {entry} is outside the project", file);
        string full = Path.Combine(projectDirectory, relative);
        // As node resolves a main without its extension.
        foreach (string extension in (string[])["", ".js", ".cjs", ".mjs", "/index.js"])
            if (File.Exists(full + extension))
            {
                CheckRealPathInside(projectDirectory, full + extension, entry, file);
                return relative + extension;
            }
        throw new UsageException($"the entrypoint {entry} does not exist in the project", file);
    }

    /// <summary>
    /// The entry's real path (every symbolic link on the way followed, as node will) must be inside the project's: a
    /// link to an absolute path is packed as it is and would run whatever is there on the machine that runs the file.
    /// Both real paths come from descriptors (<see cref="NativePath.OfDescriptor"/>), compared as bytes.
    /// </summary>
    private static void CheckRealPathInside(string projectDirectory, string path, string entry, string file)
    {
        byte[]? project = RealPath(projectDirectory), target = RealPath(path);
        if (project is null || target is null)
            throw new UsageException($"the entrypoint {entry}: cannot find its real path", file);
        bool inside = project.AsSpan().SequenceEqual("/"u8)
            || (target.Length > project.Length && target.AsSpan().StartsWith(project) && target[project.Length] == (byte)'/');
        if (!inside)
            throw new UsageException($"the entrypoint {entry} is outside the project (its real path is {NativePath.Display(target)}: a symbolic link on the way leaves it)", file);
    }

    private static byte[]? RealPath(string path)
    {
        int fd = LibC.Open(path, LibC.O_PATH | LibC.O_CLOEXEC, 0);
        if (fd < 0)
            return null;
        try
        {
            return NativePath.OfDescriptor(fd);
        }
        finally
        {
            LibC.Close(fd);
        }
    }

    private static string? String(JsonElement root, string property) =>
        root.TryGetProperty(property, out var value) && value.ValueKind == JsonValueKind.String && value.GetString() is { Length: > 0 } s ? s : null;
}
