namespace Xar.Runtime.Launching;

/// <summary>A run of bytes in memory that outlives its use (the header buffer, argv, envp): no copy, no allocation.</summary>
public readonly unsafe struct NativeText(byte* start, int length)
{
    public readonly byte* Start = start;
    public readonly int Length = length;

    /// <summary>The bytes of <paramref name="span"/>, which must stay where they are (stack or native memory) while this is used.</summary>
    public NativeText(ReadOnlySpan<byte> span)
        : this((byte*)System.Runtime.CompilerServices.Unsafe.AsPointer(ref System.Runtime.InteropServices.MemoryMarshal.GetReference(span)), span.Length)
    {
    }

    public bool IsEmpty => Length == 0;

    public bool IsNull => Start == null;

    public byte this[int index] => Start[index];

    /// <summary>A NUL-terminated C string (an argv or envp entry).</summary>
    public static NativeText FromCString(byte* text)
    {
        int length = 0;
        while (text[length] != 0)
            length++;
        return new NativeText(text, length);
    }

    public NativeText Slice(int start, int length) => new(Start + start, length);

    public NativeText Slice(int start) => new(Start + start, Length - start);

    public bool SequenceEqual(ReadOnlySpan<byte> other)
    {
        if (other.Length != Length)
            return false;
        for (int i = 0; i < Length; i++)
            if (Start[i] != other[i])
                return false;
        return true;
    }

    public bool SequenceEqual(NativeText other)
    {
        if (other.Length != Length)
            return false;
        for (int i = 0; i < Length; i++)
            if (Start[i] != other.Start[i])
                return false;
        return true;
    }

    public bool StartsWith(ReadOnlySpan<byte> prefix)
    {
        if (prefix.Length > Length)
            return false;
        for (int i = 0; i < prefix.Length; i++)
            if (Start[i] != prefix[i])
                return false;
        return true;
    }

    public int IndexOf(byte value, int from = 0)
    {
        for (int i = from; i < Length; i++)
            if (Start[i] == value)
                return i;
        return -1;
    }
}

/// <summary>
/// A path assembled in a fixed buffer (PATH_MAX bytes unless told otherwise), always NUL-terminated.
/// Overflow throws nothing (no runtime may exist yet): <see cref="Fits"/> turns false, and the caller fails the step.
/// </summary>
public unsafe struct PathBuilder
{
    public const int Capacity = 4096;

    private readonly byte* _buffer;
    private readonly int _capacity;
    private int _length;
    private bool _overflow;

    /// <summary>A builder over <paramref name="buffer"/>, which holds <paramref name="capacity"/> bytes (<see cref="Capacity"/> by default).</summary>
    public PathBuilder(byte* buffer, int capacity = Capacity)
    {
        _buffer = buffer;
        _capacity = capacity;
        _length = 0;
        _overflow = false;
        buffer[0] = 0;
    }

    public readonly bool Fits => !_overflow;

    public readonly int Length => _length;

    /// <summary>The NUL-terminated path (valid while the buffer lives).</summary>
    public readonly byte* CString => _buffer;

    public readonly NativeText Text => new(_buffer, _length);

    public void Truncate(int length)
    {
        _length = length;
        _buffer[length] = 0;
    }

    /// <summary>Drops trailing '/' as Path.TrimEndingDirectorySeparator does, but keeps a lone "/".</summary>
    public void TrimTrailingSlashes()
    {
        int end = _length;
        if (end > 1)
            while (end > 0 && _buffer[end - 1] == '/')
                end--;
        Truncate(end);
    }

    public void Append(ReadOnlySpan<byte> bytes)
    {
        for (int i = 0; i < bytes.Length; i++)
            Append(bytes[i]);
    }

    public void Append(NativeText text)
    {
        for (int i = 0; i < text.Length; i++)
            Append(text[i]);
    }

    public void Append(byte value)
    {
        if (_length + 1 >= _capacity)
        {
            _overflow = true;
            return;
        }
        _buffer[_length++] = value;
        _buffer[_length] = 0;
    }

    /// <summary>Plain decimal, as .NET's invariant ToString() writes an unsigned number.</summary>
    public void AppendDecimal(ulong value)
    {
        byte* digits = stackalloc byte[20];
        int count = 0;
        do
        {
            digits[count++] = (byte)('0' + (int)(value % 10));
            value /= 10;
        }
        while (value != 0);
        while (count > 0)
            Append(digits[--count]);
    }
}
