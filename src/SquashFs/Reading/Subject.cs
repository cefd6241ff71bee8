using System.Globalization;

namespace Xar.SquashFs.Reading;

/// <summary>
/// What a read is for, as an error message names it ("inode 12:340", "inode 7 block 3"). Held as
/// a constant format and up to two numbers and turned into text only when a message is built,
/// so reading an entry or a block allocates no string for it.
/// </summary>
internal readonly struct Subject
{
    private readonly string _format;
    private readonly ulong _first;
    private readonly ulong _second;
    private readonly bool _isFormat;

    /// <summary><paramref name="format"/> is a composite format: {0} and {1} are the numbers.</summary>
    public Subject(string format, ulong first, ulong second = 0)
    {
        _format = format;
        _first = first;
        _second = second;
        _isFormat = true;
    }

    private Subject(string text)
    {
        _format = text;
    }

    /// <summary>A fixed text, used as it is.</summary>
    public static implicit operator Subject(string text) => new(text);

    public override string ToString() =>
        _format is null ? "" : _isFormat ? string.Format(CultureInfo.InvariantCulture, _format, _first, _second) : _format;
}
