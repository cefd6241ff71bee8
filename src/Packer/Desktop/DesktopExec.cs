using System.Text;

namespace Xar.Packer.Desktop;

/// <summary>
/// The Exec key's command line (Desktop Entry Specification, "The Exec key"): a program and arguments,
/// an argument with reserved characters in double quotes (inside them \" \` \$ \\ escaped), field codes
/// such as %f and %U, a literal % written %%. All of that is under the file's string escapes (\\ for \).
/// </summary>
public static class DesktopExec
{
    /// <summary>Characters that make an argument need quoting.</summary>
    private const string Reserved = " \t\n\"'\\><~|&;$*?#()`";

    /// <summary>
    /// The first word (the program) of the unescaped Exec value <paramref name="exec"/>, and where the rest starts.
    /// Returns null when the line is empty or a quote is not closed.
    /// </summary>
    public static (string Program, int RestStart)? SplitProgram(string exec)
    {
        int i = 0;
        while (i < exec.Length && exec[i] == ' ')
            i++;
        if (i == exec.Length)
            return null;
        var program = new StringBuilder();
        if (exec[i] == '"')
        {
            for (i++; i < exec.Length; i++)
            {
                if (exec[i] == '\\' && i + 1 < exec.Length && exec[i + 1] is '"' or '`' or '$' or '\\')
                    program.Append(exec[++i]);
                else if (exec[i] == '"')
                    return (program.ToString(), i + 1);
                else
                    program.Append(exec[i]);
            }
            return null;
        }
        for (; i < exec.Length && exec[i] != ' '; i++)
            program.Append(exec[i]);
        return (program.ToString(), i);
    }

    /// <summary>
    /// <paramref name="rawExec"/> (as written in the file) with its program replaced by <paramref name="program"/>
    /// (an absolute path), quoted where needed; the arguments and field codes stay as they were.
    /// </summary>
    /// <exception cref="FormatException">The Exec line has no program or an unclosed quote.</exception>
    public static string ReplaceProgram(string rawExec, string program)
    {
        string exec = DesktopEntry.Unescape(rawExec);
        var split = SplitProgram(exec) ?? throw new FormatException($"Exec={rawExec}: no program, or a quote that is not closed");
        return DesktopEntry.Escape(Quote(program) + exec[split.RestStart..]);
    }

    /// <summary>One Exec argument: as it is when it has no reserved character, else in double quotes; % doubled.</summary>
    public static string Quote(string argument)
    {
        string word = argument.Replace("%", "%%");
        if (word.Length > 0 && word.IndexOfAny(Reserved.ToCharArray()) < 0)
            return word;
        var s = new StringBuilder("\"");
        foreach (char c in word)
        {
            if (c is '"' or '`' or '$' or '\\')
                s.Append('\\');
            s.Append(c);
        }
        return s.Append('"').ToString();
    }
}
