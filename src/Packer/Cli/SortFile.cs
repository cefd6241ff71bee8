using System.Globalization;

namespace Xar.Packer.Cli;

/// <summary>
/// mksquashfs sort files: one "PATH PRIORITY" per line (the path may hold spaces; the priority is
/// the last word, -32768..32767). Paths are relative to the source directory. Blank lines and lines
/// starting with '#' are skipped.
/// </summary>
public static class SortFile
{
    public static Dictionary<string, int> Read(string file)
    {
        string[] lines;
        try
        {
            lines = File.ReadAllLines(file);
        }
        catch (FileNotFoundException)
        {
            throw new UsageException("no such sort file", file);
        }
        return Parse(lines, file);
    }

    public static Dictionary<string, int> Parse(IEnumerable<string> lines, string file)
    {
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
            while (path.StartsWith("./", StringComparison.Ordinal))
                path = path[2..];
            path = path.Trim('/');
            result[path] = priority;
        }
        return result;
    }
}
