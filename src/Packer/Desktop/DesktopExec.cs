using System.Text;

namespace Xar.Packer.Desktop;

/// <summary>
/// The Exec key's command line (Desktop Entry Specification, "The Exec key"): a program and arguments separated by
/// spaces; an argument is quoted in whole (it starts and ends with a double quote, inside which \" \` \$ \\ are
/// escaped, and a space or the line's end follows it) and must be when it holds a reserved character; the program
/// holds no =; field codes such as %f and %U, a literal % written %%. All of that is under the file's string
/// escapes (\\ for \, \s \t \n). Anything else is malformed: refused, not guessed at, since a guess decides which
/// program a menu starts.
/// </summary>
public static class DesktopExec
{
    /// <summary>Characters that make an argument need quoting.</summary>
    private const string Reserved = " \t\n\"'\\><~|&;$*?#()`";

    /// <summary>One argument of an Exec line: its value (quoting undone) and where it starts and ends in the line.</summary>
    public readonly record struct Argument(string Value, int Start, int End);

    /// <summary>The arguments of the unescaped Exec value <paramref name="exec"/> (the program first).</summary>
    /// <exception cref="FormatException">The line is malformed; the message says how, to follow "Exec=... ".</exception>
    public static List<Argument> Split(string exec)
    {
        var arguments = new List<Argument>();
        int i = 0;
        while (true)
        {
            while (i < exec.Length && exec[i] == ' ')
                i++;
            if (i == exec.Length)
                break;
            int start = i;
            var value = new StringBuilder();
            if (exec[i] == '"')
            {
                for (i++; ; i++)
                {
                    if (i == exec.Length)
                        throw new FormatException("has a quote that is not closed");
                    char c = exec[i];
                    if (c == '"')
                        break;
                    if (c == '\\')
                    {
                        if (i + 1 == exec.Length || exec[i + 1] is not ('"' or '`' or '$' or '\\'))
                            throw new FormatException("has a backslash in quotes that escapes none of \" ` $ \\ (a literal one is written \\\\\\\\ in the file)");
                        c = exec[++i];
                    }
                    else if (c is '`' or '$')
                        throw new FormatException($"has a {c} in quotes without the backslash the specification puts before it");
                    value.Append(c);
                }
                i++;
                if (i < exec.Length && exec[i] != ' ')
                    throw new FormatException($"has {Show(exec[i])} right after a closing quote, where a space or the end of the line must follow");
            }
            else
            {
                for (; i < exec.Length && exec[i] != ' '; i++)
                {
                    if (Reserved.Contains(exec[i]))
                        throw new FormatException($"has {Show(exec[i])} outside quotes: an argument holding it must be quoted in whole");
                    value.Append(exec[i]);
                }
            }
            arguments.Add(new Argument(value.ToString(), start, i));
        }
        if (arguments.Count == 0)
            throw new FormatException("has no program");
        if (arguments[0].Value.Contains('='))
            throw new FormatException("has a program name holding =, which the specification does not allow");
        return arguments;
    }

    /// <summary>How the unescaped Exec value <paramref name="exec"/> is malformed ("has ..."), or null when it is a command line.</summary>
    public static string? Problem(string exec)
    {
        try
        {
            Split(exec);
            return null;
        }
        catch (FormatException e)
        {
            return e.Message;
        }
    }

    /// <summary>
    /// <paramref name="rawExec"/> (as written in the file) with its program replaced by <paramref name="program"/>
    /// (an absolute path), quoted where needed; the arguments and field codes stay as they were.
    /// </summary>
    /// <exception cref="FormatException">The Exec line is malformed (<see cref="Split"/>).</exception>
    public static string ReplaceProgram(string rawExec, string program)
    {
        string exec = DesktopEntry.Unescape(rawExec);
        List<Argument> arguments;
        try
        {
            arguments = Split(exec);
        }
        catch (FormatException e)
        {
            throw new FormatException($"Exec={rawExec} {e.Message}");
        }
        return DesktopEntry.Escape(Quote(program) + exec[arguments[0].End..]);
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

    private static string Show(char c) => c switch
    {
        '\t' => "a tab",
        '\n' => "a newline",
        '\r' => "a carriage return",
        _ when char.IsControl(c) => $"the control character U+{(int)c:X4}",
        _ => $"'{c}'",
    };
}
