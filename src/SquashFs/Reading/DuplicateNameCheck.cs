using Xar.SquashFs.Extraction;
using Xar.SquashFs.Format;

namespace Xar.SquashFs.Reading;

/// <summary>
/// Finds a name listed twice in one directory without keeping every name: listings are sorted by
/// name bytes (the kernel's lookup relies on it, and every writer sorts), so while each name is
/// greater than the one before, none can repeat, and the check holds one name whatever the
/// directory's size. A listing out of order (a writer that did not sort) falls back to a set of the
/// names, filled by reading the listing again up to where the order broke.
/// </summary>
internal sealed class DuplicateNameCheck
{
    private readonly byte[] _previous = new byte[SquashFsConstants.MaxNameLength];
    private int _previousLength = -1;
    private long _count;
    private HashSet<byte[]>? _seen;

    /// <summary>Starts a new directory.</summary>
    public void Reset()
    {
        _previousLength = -1;
        _count = 0;
        _seen = null;
    }

    /// <summary>
    /// False when <paramref name="name"/> came before in this directory. <paramref name="listing"/>
    /// reads the directory's names again from its start (only after the order broke).
    /// </summary>
    public bool Add(byte[] name, Func<IEnumerable<byte[]>> listing)
    {
        if (_seen is null)
        {
            int order = _previousLength < 0 ? 1 : name.AsSpan().SequenceCompareTo(_previous.AsSpan(0, _previousLength));
            if (order == 0)
                return false;
            if (order > 0)
            {
                name.CopyTo(_previous, 0);
                _previousLength = name.Length;
                _count++;
                return true;
            }
            _seen = new HashSet<byte[]>(ByteArrayComparer.Instance);
            foreach (var earlier in listing())
            {
                if (_seen.Count == _count)
                    break;
                _seen.Add(earlier);
            }
        }
        _count++;
        return _seen.Add(name);
    }
}
