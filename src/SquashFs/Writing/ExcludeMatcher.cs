using Xar.Posix;

namespace Xar.SquashFs.Writing;

/// <summary>
/// --exclude globs, matched on raw name bytes. A pattern without '/' matches an entry's name at any
/// depth; with '/' it matches the path from the source directory (a leading '/' is ignored).
/// '*' and '?' stay inside one name, '**' spans directories, [abc] / [a-z] / [!a] are byte classes,
/// '\' quotes the next character.
/// </summary>
internal sealed class ExcludeMatcher
{
    private readonly List<(byte[] Pattern, bool Anchored)> _patterns = [];

    public ExcludeMatcher(IEnumerable<string> patterns)
    {
        foreach (string p in patterns)
        {
            string t = p.TrimEnd('/');
            bool anchored = t.Contains('/');
            t = t.TrimStart('/');
            if (t.Length == 0)
                throw new ArgumentException($"exclude pattern \"{p}\" matches nothing (empty)");
            _patterns.Add((LosslessUtf8.Encode(t), anchored)); // a pattern given as bytes that are not UTF-8 keeps them
        }
    }

    public bool IsEmpty => _patterns.Count == 0;

    public bool IsExcluded(ReadOnlySpan<byte> relativePath, ReadOnlySpan<byte> name)
    {
        foreach (var (pattern, anchored) in _patterns)
            if (Glob.Match(pattern, anchored ? relativePath : name))
                return true;
        return false;
    }
}
