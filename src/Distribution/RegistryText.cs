using System.Text;

namespace Xar.Distribution;

/// <summary>
/// Text a registry chose (its error messages, digests, media types, header values) as it goes into a message: control
/// characters escaped (no terminal escape sequence reaches stderr, no line break splits the one-line error) and cut to
/// a length a line can hold, so a 3 MB bogus digest does not make a 3 MB line.
/// </summary>
public static class RegistryText
{
    public const int DefaultMax = 200;

    public static string Shown(string? text, int max = DefaultMax)
    {
        if (string.IsNullOrEmpty(text))
            return "";
        var shown = new StringBuilder(Math.Min(text.Length, max) + 8);
        foreach (char c in text)
        {
            if (shown.Length >= max)
                return shown.Append("...").ToString();
            if (char.IsControl(c) || c is '\u2028' or '\u2029')
                shown.Append(c <= 0xff ? $"\\x{(int)c:x2}" : $"\\u{(int)c:x4}");
            else
                shown.Append(c);
        }
        return shown.ToString();
    }
}
