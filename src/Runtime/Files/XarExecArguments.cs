using System.Diagnostics.CodeAnalysis;
using System.Text;

namespace Xar.Runtime;

/// <summary>
/// The value of the <c>XAR_EXEC_ARGS</c> header field: the entrypoint's fixed arguments (placed before
/// the caller's), so that a launcher can exec <c>XAR_EXEC</c> directly instead of running the bootstrap
/// script through /bin/sh. Arguments are bytes, of any value but NUL.
/// <list type="bullet">
/// <item>Arguments are separated by single spaces.</item>
/// <item>Each byte outside printable ASCII (0x21-0x7E) is written as <c>%XX</c> (upper-case hex), and so
/// are <c>%</c>, <c>"</c>, <c>'</c> and <c>\</c>, and <c>$</c> and <c>`</c>: the header lines are shell
/// assignments in double quotes (a file run by sh executes them), where those two would expand.</item>
/// <item>An empty argument is written as <c>''</c> (two single quotes): <c>'</c> is always encoded
/// otherwise, so the token cannot stand for anything else, and there is never an empty token
/// (which two spaces in a row, or a space at either end, would be).</item>
/// </list>
/// A field with no arguments is not written; an empty value is malformed. Decoders accept lower-case hex
/// and printable bytes left unencoded, but nothing else: a malformed value is refused, never guessed at.
/// </summary>
public static class XarExecArguments
{
    /// <summary>The token of an empty argument.</summary>
    public const string EmptyArgument = "''";

    /// <summary>The header value for <paramref name="arguments"/> (at least one).</summary>
    /// <exception cref="ArgumentException">No arguments, or one contains NUL (argv cannot hold it).</exception>
    public static string Encode(IReadOnlyList<byte[]> arguments)
    {
        ArgumentNullException.ThrowIfNull(arguments);
        if (arguments.Count == 0)
            throw new ArgumentException("no arguments: leave XAR_EXEC_ARGS out instead", nameof(arguments));
        var text = new StringBuilder();
        foreach (byte[] argument in arguments)
        {
            ArgumentNullException.ThrowIfNull(argument, nameof(arguments));
            if (text.Length > 0)
                text.Append(' ');
            if (argument.Length == 0)
            {
                text.Append(EmptyArgument);
                continue;
            }
            foreach (byte b in argument)
            {
                if (b == 0)
                    throw new ArgumentException("an argument contains a NUL byte, which no program argument can hold", nameof(arguments));
                if (NeedsEncoding(b))
                    text.Append('%').Append(HexDigits[b >> 4]).Append(HexDigits[b & 0xF]);
                else
                    text.Append((char)b);
            }
        }
        return text.ToString();
    }

    /// <summary>Decodes a header value; false when it is malformed.</summary>
    public static bool TryDecode(ReadOnlySpan<byte> value, [NotNullWhen(true)] out byte[][]? arguments)
    {
        arguments = null;
        var result = new List<byte[]>();
        var rest = value;
        if (rest.IsEmpty)
            return false;
        var buffer = new byte[value.Length];
        while (!rest.IsEmpty)
        {
            if (!TryDecodeNext(ref rest, buffer, out int length))
                return false;
            result.Add(buffer[..length]);
        }
        arguments = [.. result];
        return true;
    }

    /// <summary>Decodes a header value as <see cref="XarHeader"/> holds it.</summary>
    /// <exception cref="XarHeaderException">The value is malformed.</exception>
    public static byte[][] Decode(string value)
    {
        ArgumentNullException.ThrowIfNull(value);
        if (TryDecode(Encoding.UTF8.GetBytes(value), out var arguments))
            return arguments;
        string shown = value.Length > 80 ? value[..80] + "..." : value;
        throw new XarHeaderException(XarHeaderError.MalformedLine,
            $"{XarHeader.ExecArgsName} is not arguments percent-encoded and separated by single spaces: \"{shown}\"");
    }

    /// <summary>
    /// Decodes the first argument of <paramref name="rest"/> into <paramref name="destination"/> (which
    /// needs no more bytes than the token has) and moves <paramref name="rest"/> past it and its
    /// separator. Allocates nothing, for launchers that run before the .NET runtime starts. Call it
    /// while <paramref name="rest"/> is not empty; false when the value is malformed (an empty value
    /// included) or <paramref name="destination"/> is too short.
    /// </summary>
    public static bool TryDecodeNext(ref ReadOnlySpan<byte> rest, scoped Span<byte> destination, out int length)
    {
        length = -1;
        if (!TrySplit(rest, out var token, out var after))
            return false;
        length = DecodeToken(token, destination, write: true);
        if (length < 0)
            return false;
        rest = after;
        return true;
    }

    /// <summary>True when <paramref name="value"/> decodes (allocates nothing).</summary>
    public static bool IsValid(ReadOnlySpan<byte> value)
    {
        if (value.IsEmpty)
            return false;
        while (!value.IsEmpty)
        {
            if (!TrySplit(value, out var token, out value) || DecodeToken(token, default, write: false) < 0)
                return false;
        }
        return true;
    }

    /// <summary>The first token and what follows its separator; false for an empty token or a space at the end.</summary>
    private static bool TrySplit(ReadOnlySpan<byte> value, out ReadOnlySpan<byte> token, out ReadOnlySpan<byte> after)
    {
        int end = value.IndexOf((byte)' ');
        token = end < 0 ? value : value[..end];
        after = end < 0 ? default : value[(end + 1)..];
        // "a  b", " a" and "a " (which promises an argument that is not there) are all malformed.
        return !token.IsEmpty && !(end >= 0 && after.IsEmpty);
    }

    /// <summary>The decoded length of one token (written to <paramref name="destination"/> when <paramref name="write"/>), or -1.</summary>
    private static int DecodeToken(ReadOnlySpan<byte> token, Span<byte> destination, bool write)
    {
        if (token.SequenceEqual("''"u8))
            return 0;
        int length = 0;
        for (int i = 0; i < token.Length; i++)
        {
            byte b = token[i];
            if (b is < 0x21 or > 0x7E || b is (byte)'\'' or (byte)'"')
                return -1;
            if (b == '%')
            {
                if (i + 2 >= token.Length)
                    return -1;
                int high = HexValue(token[i + 1]), low = HexValue(token[i + 2]);
                if (high < 0 || low < 0 || (high | low) == 0)
                    return -1; // not hex, or NUL
                b = (byte)(high << 4 | low);
                i += 2;
            }
            if (write)
            {
                if (length >= destination.Length)
                    return -1;
                destination[length] = b;
            }
            length++;
        }
        return length;
    }

    private static bool NeedsEncoding(byte b) =>
        b is < 0x21 or > 0x7E || b is (byte)'%' or (byte)'"' or (byte)'\'' or (byte)'\\' or (byte)'$' or (byte)'`';

    private static int HexValue(byte b) => b switch
    {
        >= (byte)'0' and <= (byte)'9' => b - '0',
        >= (byte)'A' and <= (byte)'F' => b - 'A' + 10,
        >= (byte)'a' and <= (byte)'f' => b - 'a' + 10,
        _ => -1,
    };

    private const string HexDigits = "0123456789ABCDEF";
}
