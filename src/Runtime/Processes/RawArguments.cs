using System.Text;

namespace Xar.Runtime;

/// <summary>
/// The command line's arguments as the bytes the process was given. .NET hands Main strings decoded
/// from UTF-8, which replaces any invalid byte; a XAR's arguments (a Latin-1 file name, say) must
/// reach the program unchanged (xarexec, `xar run`), so they are read back from /proc/self/cmdline.
/// </summary>
public static class RawArguments
{
    /// <summary>
    /// argv[1..] as bytes, checked against <paramref name="args"/> (same count, each decoding to the
    /// same string); when /proc cannot tell, the strings encoded as UTF-8, which is exact for valid UTF-8.
    /// </summary>
    public static byte[][] Of(string[] args)
    {
        byte[][] Encoded() => Utf8(args);
        byte[] cmdline;
        try
        {
            cmdline = File.ReadAllBytes("/proc/self/cmdline");
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            return Encoded();
        }
        var raw = new List<byte[]>(args.Length + 1);
        int start = 0;
        for (int i = 0; i < cmdline.Length; i++)
        {
            if (cmdline[i] != 0)
                continue;
            raw.Add(cmdline[start..i]);
            start = i + 1;
        }
        if (raw.Count != args.Length + 1)
            return Encoded();
        for (int i = 0; i < args.Length; i++)
            if (Encoding.UTF8.GetString(raw[i + 1]) != args[i])
                return Encoded();
        return raw.GetRange(1, args.Length).ToArray();
    }

    /// <summary>
    /// The bytes of the command-line argument that .NET handed over as <paramref name="value"/>: a file name
    /// that is not UTF-8 reaches Main with its bad bytes replaced, and only the original bytes name the file.
    /// UTF-8 when no argument decodes to it.
    /// </summary>
    public static byte[] Of(string value)
    {
        try
        {
            byte[] cmdline = File.ReadAllBytes("/proc/self/cmdline");
            int start = 0;
            for (int i = 0; i < cmdline.Length; i++)
            {
                if (cmdline[i] != 0)
                    continue;
                if (start > 0 && Encoding.UTF8.GetString(cmdline, start, i - start) == value)
                    return cmdline[start..i];
                start = i + 1;
            }
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
        }
        return Encoding.UTF8.GetBytes(value);
    }

    /// <summary>
    /// The bytes of the last command-line argument, which .NET handed over as <paramref name="value"/> (checked);
    /// UTF-8 when /proc cannot tell. Exact where <see cref="Of(string)"/> could match an earlier argument that
    /// decodes to the same string.
    /// </summary>
    public static byte[] OfLast(string value)
    {
        // Valid UTF-8 decodes without U+FFFD and encodes back to the same bytes: /proc is read only for the rest
        // (this is on the FUSE server's way to its mount, where reading /proc costs a measurable 0.2 ms).
        if (!value.Contains('\uFFFD'))
            return Encoding.UTF8.GetBytes(value);
        try
        {
            byte[] cmdline = File.ReadAllBytes("/proc/self/cmdline");
            int end = cmdline.Length > 0 && cmdline[^1] == 0 ? cmdline.Length - 1 : cmdline.Length;
            int start = Array.LastIndexOf(cmdline, (byte)0, Math.Max(0, end - 1)) + 1;
            if (end > 0 && start > 0 && Encoding.UTF8.GetString(cmdline, start, end - start) == value)
                return cmdline[start..end];
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
        }
        return Encoding.UTF8.GetBytes(value);
    }

    /// <summary>Arguments given as strings, as the bytes to pass on: UTF-8.</summary>
    public static byte[][] Utf8(params ReadOnlySpan<string> strings)
    {
        var bytes = new byte[strings.Length][];
        for (int i = 0; i < strings.Length; i++)
            bytes[i] = Encoding.UTF8.GetBytes(strings[i]);
        return bytes;
    }
}
