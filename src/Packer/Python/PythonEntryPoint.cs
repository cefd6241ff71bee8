using System.Text;
using Xar.Packer.Cli;

namespace Xar.Packer.Python;

/// <summary>
/// What the packed app starts: MODULE (run as __main__, as <c>python -m</c>) or MODULE:FUNC (called, its return
/// the exit status as <c>sys.exit</c> makes it), from --entry-point or from a console script that an installed
/// distribution declares in its <c>entry_points.txt</c>.
/// </summary>
internal sealed record PythonEntryPoint(string Module, string? Function)
{
    public override string ToString() => Function is null ? Module : $"{Module}:{Function}";

    /// <summary>"module.sub" or "module.sub:func.attr"; null when the text is not one.</summary>
    public static PythonEntryPoint? TryParse(string text)
    {
        string[] parts = text.Trim().Split(':');
        if (parts.Length > 2 || !IsDottedName(parts[0]) || (parts.Length == 2 && !IsDottedName(parts[1])))
            return null;
        return new PythonEntryPoint(parts[0], parts.Length == 2 ? parts[1] : null);
    }

    /// <summary>Python identifiers joined by dots (letters, digits and _ of any script, not starting with a digit).</summary>
    private static bool IsDottedName(string text) =>
        text.Length > 0 && text.Split('.').All(part => part.Length > 0 && !char.IsAsciiDigit(part[0])
            && part.All(c => c == '_' || char.IsLetterOrDigit(c)));

    /// <summary>
    /// The console script <paramref name="name"/> declared by a distribution installed in <paramref name="siteDirectory"/>
    /// (its <c>*.dist-info/entry_points.txt</c>, section <c>[console_scripts]</c>; extras in brackets ignored).
    /// A name none declares is bad input, and the message lists those there are.
    /// </summary>
    public static PythonEntryPoint FromConsoleScript(string siteDirectory, string name)
    {
        var all = new SortedDictionary<string, string>(StringComparer.Ordinal);
        foreach (string distInfo in Directory.EnumerateDirectories(siteDirectory, "*.dist-info").Order(StringComparer.Ordinal))
        {
            string file = Path.Combine(distInfo, "entry_points.txt");
            if (!File.Exists(file))
                continue;
            foreach (var (script, value) in ConsoleScripts(File.ReadAllText(file, Encoding.UTF8)))
                all.TryAdd(script, value);
        }
        if (!all.TryGetValue(name, out string? target))
        {
            string known = all.Count == 0 ? "the installed distributions declare none" : "there are: " + string.Join(", ", all.Keys);
            throw new UsageException($"--console-script {name}: no such console script in what pip installed ({known})");
        }
        return TryParse(target) ?? throw new UsageException($"--console-script {name}: its entry point \"{target}\" is not MODULE:FUNC");
    }

    /// <summary>The name = value pairs of the [console_scripts] section of an entry_points.txt.</summary>
    private static IEnumerable<(string Name, string Value)> ConsoleScripts(string text)
    {
        bool inSection = false;
        foreach (string raw in text.Split('\n'))
        {
            string line = raw.Trim();
            if (line.Length == 0 || line[0] is '#' or ';')
                continue;
            if (line[0] == '[')
            {
                inSection = line == "[console_scripts]";
                continue;
            }
            int equals = line.IndexOf('=');
            if (!inSection || equals <= 0)
                continue;
            string value = line[(equals + 1)..];
            if (value.IndexOf('[') is int extras and >= 0)
                value = value[..extras];
            yield return (line[..equals].Trim(), value.Trim());
        }
    }
}
