namespace Xar.Packer.Desktop;

/// <summary>
/// The checks xar makes itself when desktop-file-validate is not installed: the ones that decide whether
/// a menu shows and starts the entry at all. Exactly these, and no more (README, "Desktop bundles"):
/// UTF-8; the file name ends in .desktop; every line a comment, a group header or KEY=VALUE; nothing but
/// comments before the first group, which is [Desktop Entry]; no group twice, no key twice in a group;
/// key names of A-Za-z0-9- (with an optional [locale]); Type present and Application, Link or Directory;
/// Name present; Exec for an Application (unless DBusActivatable=true), URL for a Link; an unknown key in
/// [Desktop Entry] starts with X-; boolean keys are true or false; every Exec line is a command line as the
/// specification's "The Exec key" writes it (<see cref="DesktopExec"/>; pack checks that with the tool too).
/// </summary>
public static class DesktopEntryCheck
{
    private static readonly HashSet<string> KnownKeys =
    [
        "Type", "Version", "Name", "GenericName", "NoDisplay", "Comment", "Icon", "Hidden", "OnlyShowIn", "NotShowIn",
        "DBusActivatable", "TryExec", "Exec", "Path", "Terminal", "Actions", "MimeType", "Categories", "Implements",
        "Keywords", "StartupNotify", "StartupWMClass", "URL", "PrefersNonDefaultGPU", "SingleMainWindow",
        // Deprecated, which desktop-file-validate warns about but accepts.
        "Encoding", "MiniIcon", "TerminalOptions", "Protocols", "Extensions", "BinaryPattern", "MapNotify",
        "SwallowTitle", "SwallowExec", "SortOrder", "FilePattern",
    ];

    private static readonly string[] BooleanKeys = ["NoDisplay", "Hidden", "DBusActivatable", "Terminal", "StartupNotify", "PrefersNonDefaultGPU", "SingleMainWindow"];

    /// <summary>The first problem found, worded like desktop-file-validate's errors, or null when the checks pass.</summary>
    public static string? FirstError(string fileName, ReadOnlySpan<byte> bytes)
    {
        if (!fileName.EndsWith(".desktop", StringComparison.Ordinal))
            return "the file name does not end in .desktop";
        DesktopEntry entry;
        try
        {
            entry = DesktopEntry.Parse(bytes);
        }
        catch (FormatException e)
        {
            return e.Message;
        }
        if (entry.BadLines.Count > 0)
            return $"line {entry.BadLines[0]} is not a comment, a [group] header or KEY=VALUE";
        if (entry.KeysBeforeFirstGroup.FirstOrDefault() is int before and > 0)
            return $"line {before} is a key before the first group, where only comments are accepted";
        var groups = entry.Groups.ToList();
        if (groups.Count == 0 || groups[0] != DesktopEntry.MainGroup)
            return $"the first group is not [{DesktopEntry.MainGroup}]";
        if (groups.GroupBy(g => g).FirstOrDefault(g => g.Count() > 1) is { } twice)
            return $"group [{twice.Key}] appears twice";
        foreach (string group in groups.Distinct())
        {
            var seen = new HashSet<string>(StringComparer.Ordinal);
            foreach (var (key, _) in entry.Entries(group))
            {
                if (!IsKeyName(key))
                    return $"key \"{key}\" in group [{group}] is not a valid key name (A-Za-z0-9- and an optional [locale])";
                if (!seen.Add(key))
                    return $"key \"{key}\" appears twice in group [{group}]";
                if (group == DesktopEntry.MainGroup && !KnownKeys.Contains(BaseKey(key)) && !key.StartsWith("X-", StringComparison.Ordinal))
                    return $"key \"{key}\" in group [{group}] is not in the specification, and keys extending it start with X-";
            }
        }
        string? type = entry.Get("Type");
        if (type is null)
            return $"required key \"Type\" in group [{DesktopEntry.MainGroup}] is not present";
        if (type is not ("Application" or "Link" or "Directory"))
            return $"Type={type} is not Application, Link or Directory";
        if (entry.Get("Name") is null)
            return $"required key \"Name\" in group [{DesktopEntry.MainGroup}] is not present";
        foreach (string key in BooleanKeys)
            if (entry.Get(key) is { } value && value is not ("true" or "false"))
                return $"{key}={value} is not a boolean (true or false)";
        if (type == "Application" && entry.Get("Exec") is null && entry.Get("DBusActivatable") != "true")
            return $"required key \"Exec\" for Type=Application in group [{DesktopEntry.MainGroup}] is not present";
        if (type == "Link" && entry.Get("URL") is null)
            return $"required key \"URL\" for Type=Link in group [{DesktopEntry.MainGroup}] is not present";
        return DesktopBundle.ExecProblem(entry);
    }

    private static string BaseKey(string key) => key.IndexOf('[') is int i and > 0 ? key[..i] : key;

    private static bool IsKeyName(string key)
    {
        int bracket = key.IndexOf('[');
        string name = bracket < 0 ? key : key[..bracket];
        if (bracket >= 0 && (!key.EndsWith(']') || key.Length - bracket < 3))
            return false;
        return name.Length > 0 && name.All(c => char.IsAsciiLetterOrDigit(c) || c == '-');
    }
}
