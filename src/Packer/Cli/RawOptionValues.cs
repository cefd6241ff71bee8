using System.CommandLine;
using System.Diagnostics.CodeAnalysis;
using System.Text;
using Xar.Posix;
using Xar.Runtime;

namespace Xar.Packer.Cli;

/// <summary>
/// The values of an option as the bytes the process was given. System.CommandLine parses strings, which .NET
/// decodes from UTF-8 (an invalid byte becomes U+FFFD); an argument for the packed program (--exec-arg) and a
/// path (a file name need not be UTF-8) must keep their bytes, so their values are found again in the raw command line.
/// </summary>
public static class RawOptionValues
{
    /// <summary>
    /// The raw bytes of <paramref name="parsed"/> (the values of <paramref name="option"/>, in order), taken
    /// from <paramref name="args"/> in its forms "OPTION VALUE", "OPTION=VALUE" and "OPTION:VALUE". When the
    /// command line does not show exactly those values (a response file, say), their UTF-8 encoding.
    /// </summary>
    public static byte[][] Find(string[] args, string option, IReadOnlyList<string> parsed) => Find(args, [option], parsed);

    /// <summary>As <see cref="Find(string[], string, IReadOnlyList{string})"/>, for an option known by several names ("--output", "-o").</summary>
    public static byte[][] Find(string[] args, IReadOnlyCollection<string> names, IReadOnlyList<string> parsed)
    {
        var raw = RawArguments.Of(args);
        var found = new List<byte[]>();
        for (int i = 0; i < args.Length && args[i] != "--"; i++)
        {
            foreach (string option in names)
            {
                if (args[i] == option && i + 1 < args.Length)
                    found.Add(raw[++i]);
                else if (args[i].Length > option.Length && args[i].StartsWith(option, StringComparison.Ordinal) && args[i][option.Length] is '=' or ':')
                    found.Add(raw[i][(Encoding.UTF8.GetByteCount(option) + 1)..]);
                else
                    continue;
                break;
            }
        }
        bool same = found.Count == parsed.Count;
        for (int i = 0; same && i < found.Count; i++)
            same = Encoding.UTF8.GetString(found[i]) == parsed[i];
        return same ? [.. found] : [.. parsed.Select(Encoding.UTF8.GetBytes)];
    }

    /// <summary>
    /// A path option's value (<paramref name="value"/>, as parsed) by its bytes, as a lossless string
    /// (<see cref="LosslessUtf8"/>) that <see cref="LibC"/>'s calls turn back into those bytes; null when the option
    /// is not given. The command line is read again only for a value .NET could not decode.
    /// </summary>
    [return: NotNullIfNotNull(nameof(value))]
    public static string? Path(Option option, string? value)
    {
        if (value is null || !value.Contains('\uFFFD'))
            return value;
        return LosslessUtf8.Decode(Find(CommandLine(), Names(option), [value])[0]);
    }

    /// <summary>The values of a repeatable option (paths or globs) by their bytes, as lossless strings; empty when not given.</summary>
    public static string[] Paths(ParseResult parse, Option<string[]> option)
    {
        string[] values = parse.GetValue(option) ?? [];
        if (!values.Any(v => v.Contains('\uFFFD')))
            return values;
        return [.. Find(CommandLine(), Names(option), values).Select(b => LosslessUtf8.Decode(b))];
    }

    private static string[] Names(Option option) => [option.Name, .. option.Aliases];

    /// <summary>The arguments Main was given (the same strings .NET decoded, which <see cref="Find(string[], string, IReadOnlyList{string})"/> checks).</summary>
    private static string[] CommandLine() => Environment.GetCommandLineArgs()[1..];
}
