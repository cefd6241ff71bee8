namespace Xar.SquashFs.Writing;

/// <summary>The --exclude glob syntax (see <see cref="ExcludeMatcher"/>), matched on raw bytes.</summary>
internal static class Glob
{
    public static bool Match(ReadOnlySpan<byte> pattern, ReadOnlySpan<byte> text)
    {
        while (!pattern.IsEmpty)
        {
            byte c = pattern[0];
            if (c == '*')
            {
                bool crossDirs = pattern.Length > 1 && pattern[1] == '*';
                var rest = pattern[(crossDirs ? 2 : 1)..];
                // "**/" also matches zero directories.
                if (crossDirs && rest.Length > 0 && rest[0] == '/' && Match(rest[1..], text))
                    return true;
                for (int i = 0; i <= text.Length; i++)
                {
                    if (Match(rest, text[i..]))
                        return true;
                    if (i < text.Length && text[i] == '/' && !crossDirs)
                        return false;
                }
                return false;
            }
            if (text.IsEmpty)
                return false;
            if (c == '?')
            {
                if (text[0] == '/')
                    return false;
                pattern = pattern[1..];
                text = text[1..];
                continue;
            }
            if (c == '[')
            {
                int end = ClassEnd(pattern);
                if (end > 0)
                {
                    if (text[0] == '/' || !ClassMatches(pattern[1..end], text[0]))
                        return false;
                    pattern = pattern[(end + 1)..];
                    text = text[1..];
                    continue;
                }
            }
            if (c == '\\' && pattern.Length > 1)
            {
                pattern = pattern[1..];
                c = pattern[0];
            }
            if (text[0] != c)
                return false;
            pattern = pattern[1..];
            text = text[1..];
        }
        return text.IsEmpty;
    }

    // Index of the closing ']' of a class starting at pattern[0] == '[', or -1 (then '[' is literal).
    private static int ClassEnd(ReadOnlySpan<byte> pattern)
    {
        int i = 1;
        if (i < pattern.Length && (pattern[i] == '!' || pattern[i] == '^'))
            i++;
        if (i < pattern.Length && pattern[i] == ']')
            i++;
        for (; i < pattern.Length; i++)
            if (pattern[i] == ']')
                return i;
        return -1;
    }

    private static bool ClassMatches(ReadOnlySpan<byte> cls, byte b)
    {
        bool negate = cls.Length > 0 && (cls[0] == '!' || cls[0] == '^');
        if (negate)
            cls = cls[1..];
        bool found = false;
        for (int i = 0; i < cls.Length; i++)
        {
            if (i + 2 < cls.Length && cls[i + 1] == '-')
            {
                if (b >= cls[i] && b <= cls[i + 2])
                    found = true;
                i += 2;
            }
            else if (cls[i] == b)
                found = true;
        }
        return found != negate;
    }
}
