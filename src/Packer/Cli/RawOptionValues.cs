using System.Text;
using Xar.Runtime;

namespace Xar.Packer.Cli;

/// <summary>
/// The values of a repeatable option as the bytes the process was given. System.CommandLine parses
/// strings, which .NET decodes from UTF-8 (an invalid byte becomes U+FFFD); an argument for the packed
/// program (--exec-arg) must keep its bytes, so its values are found again in the raw command line.
/// </summary>
public static class RawOptionValues
{
    /// <summary>
    /// The raw bytes of <paramref name="parsed"/> (the values of <paramref name="option"/>, in order), taken
    /// from <paramref name="args"/> in its forms "OPTION VALUE", "OPTION=VALUE" and "OPTION:VALUE". When the
    /// command line does not show exactly those values (a response file, say), their UTF-8 encoding.
    /// </summary>
    public static byte[][] Find(string[] args, string option, IReadOnlyList<string> parsed)
    {
        var raw = RawArguments.Of(args);
        var found = new List<byte[]>();
        for (int i = 0; i < args.Length && args[i] != "--"; i++)
        {
            if (args[i] == option && i + 1 < args.Length)
                found.Add(raw[++i]);
            else if (args[i].Length > option.Length && args[i].StartsWith(option, StringComparison.Ordinal) && args[i][option.Length] is '=' or ':')
                found.Add(raw[i][(Encoding.UTF8.GetByteCount(option) + 1)..]);
        }
        bool same = found.Count == parsed.Count;
        for (int i = 0; same && i < found.Count; i++)
            same = Encoding.UTF8.GetString(found[i]) == parsed[i];
        return same ? [.. found] : [.. parsed.Select(Encoding.UTF8.GetBytes)];
    }
}
