using System.Globalization;
using Xar.Posix;

namespace Xar.Packer.Cli;

/// <summary>
/// mksquashfs sort files: one "PATH PRIORITY" per line (the path may hold spaces; the priority is
/// the last word, -32768..32767). As in mksquashfs, a path starting with "/", "./" or "../" names a
/// file on disk (relative to the current directory) and applies when that file is inside SOURCE_DIR;
/// any other path is relative to SOURCE_DIR; a trailing "/*" means the directory. Blank lines and
/// lines starting with '#' are skipped.
/// </summary>
public static class SortFile
{
    /// <summary>Far more than any tree's list of paths (mksquashfs reads its sort file whole too).</summary>
    public const long MaxBytes = 256L << 20;

    public static Dictionary<string, int> Read(string file, string sourceDirectory)
    {
        // Lines as lossless strings: a path in the tree need not be UTF-8, and the scan matches the same strings.
        string[] lines = [.. LosslessUtf8.Decode(GivenFile.Read(file, "sort file", MaxBytes)).TrimStart('\uFEFF').Split('\n')];
        return Parse(lines, file, sourceDirectory, NativePath.CurrentDirectory());
    }

    /// <summary>Keys are paths relative to SOURCE_DIR ("" for SOURCE_DIR itself); a path on disk
    /// outside SOURCE_DIR is kept whole, so it matches nothing and is reported as such.</summary>
    public static Dictionary<string, int> Parse(IEnumerable<string> lines, string file, string sourceDirectory, string currentDirectory)
    {
        string[] roots = SourceRoots(Path.GetFullPath(sourceDirectory, currentDirectory));
        var result = new Dictionary<string, int>(StringComparer.Ordinal);
        int number = 0;
        foreach (string raw in lines)
        {
            number++;
            string line = raw.TrimEnd('\r').Trim();
            if (line.Length == 0 || line.StartsWith('#'))
                continue;
            int split = line.LastIndexOfAny([' ', '\t']);
            if (split <= 0 || !int.TryParse(line[(split + 1)..], NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture, out int priority)
                || priority < short.MinValue || priority > short.MaxValue)
                throw new UsageException($"line {number}: expected \"PATH PRIORITY\" with a priority from -32768 to 32767", file);
            string path = line[..split].TrimEnd();
            if (path.Length > 2 && path.EndsWith("/*", StringComparison.Ordinal))
                path = path[..^2];
            if (path.StartsWith('/') || path.StartsWith("./", StringComparison.Ordinal) || path.StartsWith("../", StringComparison.Ordinal)
                || path is "." or "..")
                path = RelativeToSource(Path.GetFullPath(path, currentDirectory), roots);
            else
                path = path.Trim('/');
            result[path] = priority;
        }
        return result;
    }

    /// <summary>SOURCE_DIR as given and, when it is a symlink, the directory it names (what is packed).</summary>
    private static string[] SourceRoots(string source)
    {
        source = source.Length > 1 ? source.TrimEnd('/') : source;
        // By the bytes (LosslessUtf8): the directory's real path as the kernel holds it for a descriptor.
        int fd = LibC.Open(source, LibC.O_PATH | LibC.O_DIRECTORY | LibC.O_CLOEXEC, 0);
        if (fd < 0)
            return [source];
        byte[]? real = NativePath.OfDescriptor(fd);
        LibC.Close(fd);
        string? target = real is null ? null : LosslessUtf8.Decode(real);
        return target is null || target == source ? [source] : [source, target];
    }

    private static string RelativeToSource(string full, string[] roots)
    {
        full = full.Length > 1 ? full.TrimEnd('/') : full;
        foreach (string root in roots)
        {
            if (full == root)
                return "";
            string prefix = root == "/" ? "/" : root + "/";
            if (full.StartsWith(prefix, StringComparison.Ordinal))
                return full[prefix.Length..];
        }
        return full;
    }
}
