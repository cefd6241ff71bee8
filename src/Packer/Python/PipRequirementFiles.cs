using Microsoft.Win32.SafeHandles;
using System.Text;
using Xar.Posix;

namespace Xar.Packer.Python;

/// <summary>
/// The files and folders that the requirements and constraints files of PIP_ARGS name (-r/--requirement FILE,
/// -c/--constraint FILE, and PIP_REQUIREMENT/PIP_CONSTRAINT, which pip reads too), for OUT's check before pip runs:
/// a line may name a project folder, a wheel, a --find-links folder, or another such file (-r/-c inside, followed
/// to any depth). Read as pip reads them as far as that needs (comments, backslash continuations, a nested file
/// relative to the file that names it), but not parsed: every word of a line, the value of --OPTION=VALUE and
/// -XVALUE, a file: URL's path and a path with its [extras] taken off is a candidate, relative to the working folder
/// and to the file's folder alike. A candidate that names nothing is skipped by the caller, one that names an
/// unrelated file only makes the check stricter.
/// </summary>
internal static class PipRequirementFiles
{
    /// <summary>Nested files are not followed further down than this (a file is read once, so only a chain of distinct files gets here).</summary>
    private const int MaxDepth = 32;

    /// <summary>Each candidate with the requirements file that names it.</summary>
    public static IEnumerable<(string Path, string NamedIn)> NamedPaths(IReadOnlyList<string> pipArgs)
    {
        var seen = new HashSet<string>(StringComparer.Ordinal);
        var found = new List<(string, string)>();
        foreach (string file in GivenFiles(pipArgs))
            Read(file, Directory.GetCurrentDirectory(), 0, seen, found);
        return found;
    }

    /// <summary>
    /// The requirements and constraints files PIP_ARGS give: -r/-c with the value in the next word or glued to it (also
    /// at the end of a group, -Ur FILE), --requirement/--constraint and any prefix of them that pip would take, with
    /// the value after '=' or in the next word; then those of PIP_REQUIREMENT and PIP_CONSTRAINT (space-separated).
    /// </summary>
    internal static IEnumerable<string> GivenFiles(IReadOnlyList<string> pipArgs)
    {
        for (int i = 0; i < pipArgs.Count; i++)
        {
            string argument = pipArgs[i];
            if (argument == "--")
                continue;
            if (argument.StartsWith("--", StringComparison.Ordinal))
            {
                int equals = argument.IndexOf('=');
                if (!IsFileOption(equals < 0 ? argument : argument[..equals]))
                    continue;
                if (equals >= 0)
                    yield return argument[(equals + 1)..];
                else if (i + 1 < pipArgs.Count)
                    yield return pipArgs[++i];
            }
            else if (argument.Length > 1 && argument[0] == '-')
            {
                for (int c = 1; c < argument.Length; c++)
                {
                    if (!PipInstall.ShortOptionsWithValue.Contains(argument[c]))
                        continue;
                    // The rest of the word is the value, else the next word: either way the group ends here.
                    string? value = c + 1 < argument.Length ? argument[(c + 1)..] : i + 1 < pipArgs.Count ? pipArgs[++i] : null;
                    if (value is not null && argument[c] is 'r' or 'c')
                        yield return value;
                    break;
                }
            }
        }
        foreach (string variable in (string[])["PIP_REQUIREMENT", "PIP_CONSTRAINT"])
            foreach (string file in (Environment.GetEnvironmentVariable(variable) ?? "").Split(' ', StringSplitOptions.RemoveEmptyEntries))
                yield return file;
    }

    private static void Read(string file, string relativeTo, int depth, HashSet<string> seen, List<(string, string)> found)
    {
        if (file.Contains("://", StringComparison.Ordinal) && !file.StartsWith("file:", StringComparison.Ordinal))
            return; // a URL pip downloads: nothing of this machine's
        string path = Path.Combine(relativeTo, FileUrlPath(file) ?? file);
        if (depth > MaxDepth || !seen.Add(Path.GetFullPath(path)) || ReadText(path) is not { } text)
            return;
        string directory = Path.GetDirectoryName(Path.GetFullPath(path)) ?? "/";
        foreach (string line in LogicalLines(text))
        {
            string[] words = line.Split([' ', '\t'], StringSplitOptions.RemoveEmptyEntries);
            for (int i = 0; i < words.Length; i++)
            {
                foreach (string candidate in Candidates(words[i]))
                {
                    found.Add((candidate, path));
                    if (!Path.IsPathRooted(candidate))
                        found.Add((Path.GetFullPath(Path.Combine(directory, candidate)), path));
                }
                // A nested requirements or constraints file: pip reads it relative to this one.
                string? nested = IsFileOption(words[i]) ? (i + 1 < words.Length ? words[i + 1] : null)
                    : words[i].StartsWith("--", StringComparison.Ordinal) && words[i].IndexOf('=') is int equals and > 0 && IsFileOption(words[i][..equals]) ? words[i][(equals + 1)..]
                    : words[i].Length > 2 && words[i][0] == '-' && words[i][1] is 'r' or 'c' ? words[i][2..]
                    : null;
                if (nested is not null)
                    Read(nested, directory, depth + 1, seen, found);
            }
        }
    }

    /// <summary>-r, -c, --requirement, --constraint or a prefix of these that pip's option parser takes for them.</summary>
    private static bool IsFileOption(string word) =>
        word is "-r" or "-c"
        || word.Length >= 4 && ("--requirement".StartsWith(word, StringComparison.Ordinal) || "--constraint".StartsWith(word, StringComparison.Ordinal));

    /// <summary>The words a requirement word may name a path by: itself, an option's value, a file: URL's path, without [extras].</summary>
    private static IEnumerable<string> Candidates(string word)
    {
        var names = new List<string> { word };
        if (word.StartsWith("--", StringComparison.Ordinal) && word.IndexOf('=') is int equals and > 2)
            names.Add(word[(equals + 1)..]);
        else if (word.Length > 2 && word[0] == '-' && word[1] != '-')
            names.Add(word[2..]);
        if (word.IndexOf("file:", StringComparison.Ordinal) is int url and >= 0 && FileUrlPath(word[url..]) is { } local)
            names.Add(local);
        foreach (string name in names.ToArray())
        {
            // "./proj[extra]" and "./proj;marker" name ./proj.
            int cut = name.IndexOfAny(['[', ';']);
            if (cut > 0)
                names.Add(name[..cut]);
        }
        return names.Where(n => n.Length > 0 && n[0] != '-').Distinct(StringComparer.Ordinal);
    }

    /// <summary>The local path of a file: URL (file:///p, file://localhost/p, file:p), without its #fragment; else null.</summary>
    private static string? FileUrlPath(string text)
    {
        if (!text.StartsWith("file:", StringComparison.Ordinal))
            return null;
        string rest = text["file:".Length..];
        int hash = rest.IndexOf('#');
        if (hash >= 0)
            rest = rest[..hash];
        if (rest.StartsWith("//localhost/", StringComparison.Ordinal))
            rest = rest["//localhost".Length..];
        else if (rest.StartsWith("///", StringComparison.Ordinal))
            rest = rest[2..];
        else if (rest.StartsWith("//", StringComparison.Ordinal))
            return null; // another host's file
        return Uri.UnescapeDataString(rest);
    }

    /// <summary>
    /// The lines as pip sees them: a line that ends in a backslash continues on the next, and a '#' at the start or after
    /// white space begins a comment.
    /// </summary>
    private static IEnumerable<string> LogicalLines(string text)
    {
        var line = new StringBuilder();
        foreach (string physical in text.Split('\n'))
        {
            string part = physical.TrimEnd('\r');
            if (part.EndsWith('\\'))
            {
                line.Append(part, 0, part.Length - 1);
                continue;
            }
            line.Append(part);
            string whole = line.ToString();
            line.Clear();
            for (int i = 0; i < whole.Length; i++)
                if (whole[i] == '#' && (i == 0 || whole[i - 1] is ' ' or '\t'))
                {
                    whole = whole[..i];
                    break;
                }
            yield return whole;
        }
        if (line.Length > 0)
            yield return line.ToString();
    }

    /// <summary>The text of a regular file (opened without blocking on a FIFO and checked through the descriptor); null for anything else.</summary>
    private static string? ReadText(string path)
    {
        int fd = LibC.Open(path, LibC.O_RDONLY | LibC.O_NONBLOCK | LibC.O_CLOEXEC, 0);
        if (fd < 0)
            return null; // pip says what is wrong with it
        using var handle = new SafeFileHandle(fd, ownsHandle: true);
        if (LibC.FStatx(fd, out var status) != 0 || !status.IsRegularFile)
            return null;
        try
        {
            using var stream = new FileStream(handle, FileAccess.Read);
            using var reader = new StreamReader(stream, Encoding.UTF8, detectEncodingFromByteOrderMarks: true);
            return reader.ReadToEnd();
        }
        catch (IOException)
        {
            return null;
        }
    }
}
