using System.Text;

namespace Xar.Packer.Desktop;

/// <summary>
/// A desktop entry file (freedesktop Desktop Entry Specification) kept line by line, so it can be read
/// (groups, keys, unescaped values) and rewritten with a few keys changed and every other line as it was.
/// Parsing is lenient (a line that is neither a group, a key nor a comment is kept and listed in
/// <see cref="BadLines"/>): checking is <see cref="DesktopEntryCheck"/>'s or desktop-file-validate's job.
/// </summary>
public sealed class DesktopEntry
{
    public const string MainGroup = "Desktop Entry";

    private readonly List<Line> _lines;

    private DesktopEntry(List<Line> lines, List<int> badLines)
    {
        _lines = lines;
        BadLines = badLines;
    }

    /// <summary>One line: its text, the group it is in (null before the first), and its key and raw value when it is a key.</summary>
    private sealed record Line(string Text, string? Group, string? Key, string? RawValue, bool IsGroupHeader);

    /// <summary>1-based numbers of lines that are neither empty, a comment, a group header nor KEY=VALUE.</summary>
    public IReadOnlyList<int> BadLines { get; }

    /// <summary>The group names in file order (repeated ones too).</summary>
    public IEnumerable<string> Groups => _lines.Where(l => l.IsGroupHeader).Select(l => l.Group!);

    /// <summary>Keys before the first group header (1-based line numbers).</summary>
    public IEnumerable<int> KeysBeforeFirstGroup => _lines.Select((l, i) => (l, i)).Where(t => t.l.Key is not null && t.l.Group is null).Select(t => t.i + 1);

    /// <summary>The (key, raw value) pairs of <paramref name="group"/>, in file order.</summary>
    public IEnumerable<(string Key, string RawValue)> Entries(string group) =>
        _lines.Where(l => l.Key is not null && l.Group == group).Select(l => (l.Key!, l.RawValue!));

    /// <summary>
    /// Parses <paramref name="bytes"/>. Throws <see cref="FormatException"/> when they are not UTF-8 (the
    /// specification's encoding): nothing else is refused here.
    /// </summary>
    public static DesktopEntry Parse(ReadOnlySpan<byte> bytes)
    {
        string text;
        try
        {
            text = new UTF8Encoding(encoderShouldEmitUTF8Identifier: false, throwOnInvalidBytes: true).GetString(bytes);
        }
        catch (DecoderFallbackException)
        {
            throw new FormatException("is not UTF-8 text (desktop entries are UTF-8)");
        }
        var lines = new List<Line>();
        var bad = new List<int>();
        string? group = null;
        string[] split = text.Split('\n');
        // A final newline ends the last line rather than starting an empty one.
        int count = split.Length > 0 && split[^1].Length == 0 ? split.Length - 1 : split.Length;
        for (int i = 0; i < count; i++)
        {
            string line = split[i];
            string trimmed = line.Trim();
            if (trimmed.Length == 0 || trimmed[0] == '#')
            {
                lines.Add(new Line(line, group, null, null, false));
                continue;
            }
            if (trimmed[0] == '[' && trimmed[^1] == ']')
            {
                group = trimmed[1..^1];
                lines.Add(new Line(line, group, null, null, true));
                continue;
            }
            int eq = line.IndexOf('=');
            if (eq <= 0 || line[..eq].Trim().Length == 0)
            {
                bad.Add(i + 1);
                lines.Add(new Line(line, group, null, null, false));
                continue;
            }
            lines.Add(new Line(line, group, line[..eq].Trim(), line[(eq + 1)..].TrimStart(' ', '\t'), false));
        }
        return new DesktopEntry(lines, bad);
    }

    /// <summary>The raw (still escaped) value of the first <paramref name="key"/> in <paramref name="group"/>, or null.</summary>
    public string? GetRaw(string key, string group = MainGroup) =>
        _lines.FirstOrDefault(l => l.Group == group && l.Key == key)?.RawValue;

    /// <summary>The value of <paramref name="key"/> with the specification's escapes (\s \n \t \r \\) undone, or null.</summary>
    public string? Get(string key, string group = MainGroup) => GetRaw(key, group) is { } raw ? Unescape(raw) : null;

    /// <summary>
    /// Sets <paramref name="key"/> in <paramref name="group"/> to <paramref name="value"/> (escaped here): the
    /// first such line is replaced and any later duplicate dropped; a missing key is added after the group's last key.
    /// </summary>
    public void Set(string key, string value, string group = MainGroup)
    {
        string text = key + "=" + Escape(value);
        int first = _lines.FindIndex(l => l.Group == group && l.Key == key);
        if (first >= 0)
        {
            _lines[first] = _lines[first] with { Text = text, RawValue = Escape(value) };
            for (int i = _lines.Count - 1; i > first; i--)
                if (_lines[i].Group == group && _lines[i].Key == key)
                    _lines.RemoveAt(i);
            return;
        }
        int last = _lines.FindLastIndex(l => l.Group == group && (l.Key is not null || l.IsGroupHeader));
        if (last < 0)
            throw new InvalidOperationException($"no group [{group}]");
        _lines.Insert(last + 1, new Line(text, group, key, Escape(value), false));
    }

    /// <summary>Sets the raw value of every <paramref name="key"/> line in every group through <paramref name="rewrite"/> (raw in, raw out).</summary>
    public void RewriteAll(string key, Func<string, string> rewrite)
    {
        for (int i = 0; i < _lines.Count; i++)
            if (_lines[i].Key == key)
            {
                string raw = rewrite(_lines[i].RawValue!);
                _lines[i] = _lines[i] with { Text = key + "=" + raw, RawValue = raw };
            }
    }

    /// <summary>Removes every <paramref name="key"/> line (its localized ones, KEY[locale], too) of every group; returns how many.</summary>
    public int RemoveAll(string key) =>
        _lines.RemoveAll(l => l.Key is { } k && (k == key || (k.StartsWith(key + "[", StringComparison.Ordinal) && k.EndsWith(']'))));

    /// <summary>The file's bytes: every line as read or set, each ended by a newline.</summary>
    public byte[] ToBytes()
    {
        var s = new StringBuilder();
        foreach (var line in _lines)
            s.Append(line.Text).Append('\n');
        return Encoding.UTF8.GetBytes(s.ToString());
    }

    /// <summary>Undoes the string escapes of the specification: \s \n \t \r \\ (any other backslash stays).</summary>
    public static string Unescape(string raw)
    {
        if (!raw.Contains('\\'))
            return raw;
        var s = new StringBuilder(raw.Length);
        for (int i = 0; i < raw.Length; i++)
        {
            if (raw[i] == '\\' && i + 1 < raw.Length)
            {
                char next = raw[i + 1];
                char? c = next switch { 's' => ' ', 'n' => '\n', 't' => '\t', 'r' => '\r', '\\' => '\\', _ => null };
                if (c is { } unescaped)
                {
                    s.Append(unescaped);
                    i++;
                    continue;
                }
            }
            s.Append(raw[i]);
        }
        return s.ToString();
    }

    /// <summary>A value as it is written in the file: backslash, newline, tab and carriage return escaped, a leading space as \s.</summary>
    public static string Escape(string value)
    {
        var s = new StringBuilder(value.Length);
        for (int i = 0; i < value.Length; i++)
        {
            char c = value[i];
            s.Append(c switch
            {
                '\\' => "\\\\",
                '\n' => "\\n",
                '\t' => "\\t",
                '\r' => "\\r",
                ' ' when i == 0 => "\\s",
                _ => c.ToString(),
            });
        }
        return s.ToString();
    }
}
