using Xar.SquashFs.Format;

namespace Xar.SquashFs.Reading;

/// <summary>
/// What a walk has met, by inode number (1..count): the inode's reference and two marks. Eight
/// bytes per inode met, in pages allocated as numbers are met, instead of a dictionary entry and
/// set entries per inode (several times that, and in one huge directory all at once).
/// </summary>
internal sealed class InodeNumberTable(uint count)
{
    private const int PageBits = 12;
    private const ulong Present = 1UL << 63, Marked = 1UL << 62, ReferenceMask = (1UL << 48) - 1;

    private readonly ulong[]?[] _pages = new ulong[]?[(count >> PageBits) + 1];

    /// <summary>Distinct numbers met.</summary>
    public long Count { get; private set; }

    /// <summary>
    /// Notes that <paramref name="number"/> is the inode at <paramref name="reference"/>; false when
    /// the number was met before at another reference.
    /// </summary>
    public bool Record(uint number, ulong reference)
    {
        ref ulong slot = ref Slot(number);
        if ((slot & Present) == 0)
        {
            slot = Present | reference;
            Count++;
            return true;
        }
        return (slot & ReferenceMask) == reference;
    }

    /// <summary>Marks a recorded number; false when it was marked already (a directory reached twice, a hard link's data checked).</summary>
    public bool Mark(uint number)
    {
        ref ulong slot = ref Slot(number);
        if ((slot & Marked) != 0)
            return false;
        slot |= Marked;
        return true;
    }

    /// <summary>The recorded (number, reference) pairs, in number order.</summary>
    public IEnumerable<(uint Number, ulong Reference)> Recorded()
    {
        for (int p = 0; p < _pages.Length; p++)
        {
            if (_pages[p] is not { } page)
                continue;
            for (int i = 0; i < page.Length; i++)
                if ((page[i] & Present) != 0)
                    yield return ((uint)((p << PageBits) + i), page[i] & ReferenceMask);
        }
    }

    private ref ulong Slot(uint number)
    {
        if (number == 0 || number > count)
            throw new SquashFsCorruptException($"inode number {number} is out of range (1..{count})");
        var page = _pages[number >> PageBits] ??= new ulong[1 << PageBits];
        return ref page[number & ((1 << PageBits) - 1)];
    }
}
