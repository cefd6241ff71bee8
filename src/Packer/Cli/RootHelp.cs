using System.CommandLine;
using System.CommandLine.Help;
using System.Text;

namespace Xar.Packer.Cli;

/// <summary>
/// `xar --help`. System.CommandLine lists each command with its arguments as <c>&lt;NAME&gt;</c>
/// whatever their arity, so `ls &lt;FILE&gt; &lt;PATH&gt;` looked as if PATH were required. This
/// writes the same help with the Commands section rebuilt: optional arguments in brackets and
/// repeatable ones with "...", as each command's own usage line shows them.
/// </summary>
public static class RootHelp
{
    /// <summary>True when <paramref name="parsed"/> asks for the top-level help.</summary>
    public static bool IsRequested(ParseResult parsed, RootCommand root) =>
        parsed.Action is HelpAction && parsed.CommandResult.Command == root;

    public static int Write(ParseResult parsed, RootCommand root)
    {
        var captured = new StringWriter();
        int status = parsed.Invoke(new InvocationConfiguration { Output = captured });
        int width = Console.IsOutputRedirected ? int.MaxValue : Math.Max(40, Console.WindowWidth);
        StandardOutput.Writer.Write(WithCommands(captured.ToString(), root, width));
        return status;
    }

    /// <summary><paramref name="help"/> with its "Commands:" section (up to the next blank line) rebuilt.</summary>
    public static string WithCommands(string help, Command root, int width)
    {
        const string heading = "Commands:";
        int start = help.IndexOf("\n" + heading + "\n", StringComparison.Ordinal);
        if (start < 0)
            return help;
        start += heading.Length + 2;
        int end = help.IndexOf("\n\n", start, StringComparison.Ordinal);
        end = end < 0 ? help.Length : end + 1;

        var rows = root.Subcommands.Where(c => !c.Hidden).Select(c => (Label: Label(c), Description: c.Description ?? "")).ToList();
        const int indent = 2, gutter = 2;
        int column = indent + rows.Max(r => r.Label.Length) + gutter;
        var section = new StringBuilder();
        foreach (var (label, description) in rows)
        {
            section.Append(' ', indent).Append(label).Append(' ', column - indent - label.Length);
            bool first = true;
            foreach (string line in Wrap(description, Math.Max(20, width - column)))
            {
                if (!first)
                    section.Append(' ', column);
                section.Append(line).Append('\n');
                first = false;
            }
            if (first)
                section.Append('\n');
        }
        return help[..start] + section + help[end..];
    }

    /// <summary>"ls &lt;FILE&gt; [&lt;PATH&gt;]": the name, then each argument by its arity.</summary>
    public static string Label(Command command)
    {
        var label = new StringBuilder(command.Name);
        foreach (var argument in command.Arguments.Where(a => !a.Hidden))
        {
            string name = $"<{argument.HelpName ?? argument.Name}>";
            if (argument.Arity.MaximumNumberOfValues > 1)
                name += "...";
            label.Append(' ').Append(argument.Arity.MinimumNumberOfValues == 0 ? $"[{name}]" : name);
        }
        return label.ToString();
    }

    private static IEnumerable<string> Wrap(string text, int width)
    {
        var line = new StringBuilder();
        foreach (string word in text.Split(' ', StringSplitOptions.RemoveEmptyEntries))
        {
            if (line.Length > 0 && line.Length + 1 + word.Length > width)
            {
                yield return line.ToString();
                line.Clear();
            }
            if (line.Length > 0)
                line.Append(' ');
            line.Append(word);
        }
        if (line.Length > 0)
            yield return line.ToString();
    }
}
