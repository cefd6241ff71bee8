using System.Buffers;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Runtime.InteropServices.Marshalling;
using System.Text;
using System.Text.Unicode;

namespace Xar.Posix;

/// <summary>
/// UTF-8 that keeps every byte: a Linux name is any byte but '/' and NUL, and .NET's decoder turns the bytes
/// that are not UTF-8 into U+FFFD, so a path read from the kernel (a mount table, an environment variable,
/// the launch core's answer) no longer names the same file once it is a string. Here each such byte 0xNN
/// becomes the lone surrogate U+DCNN, which valid UTF-8 never decodes to, and <see cref="Encode"/> (and every
/// string path given to <see cref="LibC"/>, through <see cref="LosslessUtf8Marshaller"/>) turns it back.
/// Strings without such bytes are plain UTF-8 both ways.
/// </summary>
public static class LosslessUtf8
{
    private const char EscapeBase = '\uDC00';

    /// <summary>The bytes as a string: UTF-8 where they are, U+DC80..U+DCFF for each byte that is not.</summary>
    public static string Decode(ReadOnlySpan<byte> bytes)
    {
        if (Utf8.IsValid(bytes))
            return Encoding.UTF8.GetString(bytes);
        var text = new StringBuilder(bytes.Length);
        while (!bytes.IsEmpty)
        {
            if (Rune.DecodeFromUtf8(bytes, out var rune, out int used) == OperationStatus.Done)
            {
                text.Append(rune.ToString());
                bytes = bytes[used..];
            }
            else
            {
                text.Append((char)(EscapeBase + bytes[0]));
                bytes = bytes[1..];
            }
        }
        return text.ToString();
    }

    /// <summary>The bytes as text for messages: UTF-8 where they are, <c>\xNN</c> for each byte that is not (control characters kept).</summary>
    public static string Escape(ReadOnlySpan<byte> bytes)
    {
        if (Utf8.IsValid(bytes))
            return Encoding.UTF8.GetString(bytes);
        var text = new StringBuilder(bytes.Length + 8);
        while (!bytes.IsEmpty)
        {
            if (Rune.DecodeFromUtf8(bytes, out var rune, out int used) == OperationStatus.Done)
            {
                text.Append(rune.ToString());
                bytes = bytes[used..];
            }
            else
            {
                text.Append("\\x").Append(bytes[0].ToString("x2", System.Globalization.CultureInfo.InvariantCulture));
                bytes = bytes[1..];
            }
        }
        return text.ToString();
    }

    /// <summary>The bytes a <see cref="Decode"/>d string came from (any other string: its UTF-8).</summary>
    public static byte[] Encode(string text)
    {
        var bytes = new byte[GetByteCount(text)];
        Write(text, bytes);
        return bytes;
    }

    /// <summary>For messages: the name's UTF-8, with <c>\xNN</c> for each byte that is not (<see cref="NativePath.Display"/>).</summary>
    public static string Display(string text) => HasEscapes(text) ? NativePath.Display(Encode(text)) : text;

    internal static int GetByteCount(string text)
    {
        if (!HasEscapes(text))
            return Encoding.UTF8.GetByteCount(text);
        int count = 0;
        for (int i = 0; i < text.Length; i++)
            count += IsEscape(text, i) ? 1 : CharLength(text, ref i);
        return count;
    }

    /// <summary>Writes the bytes of <paramref name="text"/> (exactly <see cref="GetByteCount"/> of them).</summary>
    internal static void Write(string text, Span<byte> destination)
    {
        if (!HasEscapes(text))
        {
            Encoding.UTF8.GetBytes(text, destination);
            return;
        }
        int at = 0;
        for (int i = 0; i < text.Length; i++)
        {
            if (IsEscape(text, i))
            {
                destination[at++] = (byte)(text[i] - EscapeBase);
                continue;
            }
            int start = i;
            CharLength(text, ref i);
            at += Encoding.UTF8.GetBytes(text.AsSpan(start, i - start + 1), destination[at..]);
        }
    }

    /// <summary>True when <paramref name="text"/> holds a byte that is not UTF-8 (a <see cref="Decode"/>d string).</summary>
    public static bool HasEscapes(string text) => text.AsSpan().IndexOfAnyInRange('\uDC80', '\uDCFF') >= 0;

    /// <summary>A low surrogate U+DC80..U+DCFF with no high surrogate before it: an escaped byte.</summary>
    private static bool IsEscape(string text, int i) =>
        text[i] is >= '\uDC80' and <= '\uDCFF' && (i == 0 || !char.IsHighSurrogate(text[i - 1]));

    /// <summary>The UTF-8 length of the character at <paramref name="i"/>; a surrogate pair moves <paramref name="i"/> to its second half.</summary>
    private static int CharLength(string text, ref int i)
    {
        if (char.IsHighSurrogate(text[i]) && i + 1 < text.Length && char.IsLowSurrogate(text[i + 1]))
        {
            i++;
            return 4;
        }
        return Encoding.UTF8.GetByteCount(text.AsSpan(i, 1));
    }
}

/// <summary>
/// Marshals a string path to libc as its <see cref="LosslessUtf8"/> bytes and a NUL: a name decoded from bytes
/// that are not UTF-8 reaches the kernel as those bytes, not as U+FFFD's.
/// </summary>
[CustomMarshaller(typeof(string), MarshalMode.ManagedToUnmanagedIn, typeof(ManagedToUnmanagedIn))]
public static unsafe class LosslessUtf8Marshaller
{
    public ref struct ManagedToUnmanagedIn
    {
        private byte* _native;
        private bool _allocated;

        /// <summary>Most paths fit on the stack.</summary>
        public static int BufferSize => 0x200;

        public void FromManaged(string? managed, Span<byte> buffer)
        {
            _allocated = false;
            if (managed is null)
            {
                _native = null;
                return;
            }
            int count = LosslessUtf8.GetByteCount(managed);
            if (count + 1 > buffer.Length)
            {
                buffer = new Span<byte>(NativeMemory.Alloc((nuint)count + 1), count + 1);
                _allocated = true;
            }
            LosslessUtf8.Write(managed, buffer);
            buffer[count] = 0;
            _native = (byte*)Unsafe.AsPointer(ref MemoryMarshal.GetReference(buffer));
        }

        public readonly byte* ToUnmanaged() => _native;

        public readonly void Free()
        {
            if (_allocated)
                NativeMemory.Free(_native);
        }
    }
}
