using System.Text;

namespace Xar.Runtime;

// xarexec's pre-runtime fast start takes a header only when these rules would (src/Launcher/PreRuntime/HeaderScan.cs;
// HeaderScanTests compare the two): a rule added here must be added there, or the scan must refuse what it breaks.
/// <summary>
/// The text header in front of the SquashFS image of a XAR file (Facebook's format):
/// a shebang line, <c>OFFSET="N"</c> on line 2, <c>NAME="value"</c> lines, <c>#xar_stop</c>,
/// then newlines up to OFFSET, where the image starts.
/// </summary>
public sealed class XarHeader
{
    public const string Shebang = "#!/usr/bin/env xarexec_fuse";
    public const string StopMarker = "#xar_stop";
    /// <summary>Writers always put the image here (Facebook's launcher reads no other offset).</summary>
    public const int DefaultOffset = 4096;
    /// <summary>Readers accept any positive multiple of this up to <see cref="MaxHeaderSize"/>.</summary>
    public const int OffsetMultiple = 4096;
    public const int MaxHeaderSize = 8192;
    /// <summary>Bytes a reader needs to parse any header: the largest header plus the image magic.</summary>
    public const int BytesNeeded = MaxHeaderSize + 4;

    public const string OffsetName = "OFFSET";
    public const string UuidName = "UUID";
    public const string VersionName = "VERSION";
    public const string ExecTargetName = "XAREXEC_TARGET";
    public const string DependenciesName = "DEPENDENCIES";
    public const string MountRootName = "MOUNT_ROOT";
    public const string TrampolineNamesName = "XAREXEC_TRAMPOLINE_NAMES";
    private const string RequiredTrampoline = "invoke_xar_via_trampoline";

    private static readonly byte[] SquashFsMagic = "hsqs"u8.ToArray();

    private readonly List<KeyValuePair<string, string>> _values;

    public XarHeader(string uuid, string version, string? execTarget = null,
        IEnumerable<KeyValuePair<string, string>>? extraValues = null)
    {
        Offset = DefaultOffset;
        _values = [new(UuidName, uuid), new(VersionName, version)];
        if (execTarget is not null)
            _values.Add(new(ExecTargetName, execTarget));
        if (extraValues is not null)
            _values.AddRange(extraValues);
        foreach (var (name, value) in _values)
            CheckWritable(name, value);
        CheckUuid(uuid);
        var seen = new HashSet<string>(StringComparer.Ordinal) { OffsetName };
        foreach (var (name, _) in _values)
            if (!seen.Add(name))
                throw new ArgumentException($"header value {name} is given twice");
    }

    private XarHeader(long offset, List<KeyValuePair<string, string>> values)
    {
        Offset = offset;
        _values = values;
    }

    /// <summary>Byte offset of the SquashFS image in the file.</summary>
    public long Offset { get; }

    public string Uuid => this[UuidName]!;

    public string Version => this[VersionName]!;

    /// <summary>Path inside the image that the launcher runs with <c>/bin/sh -e</c>, if any.</summary>
    public string? ExecTarget => this[ExecTargetName];

    public string? MountRoot => this[MountRootName];

    public IReadOnlyList<string> Dependencies =>
        this[DependenciesName]?.Split(' ', StringSplitOptions.RemoveEmptyEntries) ?? [];

    /// <summary>Every NAME="value" line in file order, OFFSET excluded.</summary>
    public IReadOnlyList<KeyValuePair<string, string>> Values => _values;

    public string? this[string name]
    {
        get
        {
            foreach (var (n, v) in _values)
                if (n == name)
                    return v;
            return null;
        }
    }

    /// <summary>True when the bytes start like a XAR file (the shebang), so callers can tell XAR from a bare image.</summary>
    public static bool LooksLikeXar(ReadOnlySpan<byte> start) =>
        start.StartsWith("#!"u8);

    /// <summary>Reads and parses the header at the current position of <paramref name="stream"/>.</summary>
    public static XarHeader Read(Stream stream)
    {
        var buffer = new byte[BytesNeeded];
        int total = 0;
        while (total < buffer.Length)
        {
            int n = stream.Read(buffer, total, buffer.Length - total);
            if (n == 0)
                break;
            total += n;
        }
        return Parse(buffer.AsSpan(0, total));
    }

    public static XarHeader ReadFromFile(string path)
    {
        using var stream = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.Read, 1, FileOptions.None);
        return Read(stream);
    }

    /// <summary>
    /// Parses the first bytes of a file (at least up to OFFSET + 4, at most <see cref="BytesNeeded"/>
    /// are looked at) by the rules of Facebook's XarParser.
    /// </summary>
    /// <exception cref="XarHeaderException">The bytes break a rule; the message names it.</exception>
    public static XarHeader Parse(ReadOnlySpan<byte> data)
    {
        if (data.Length > BytesNeeded)
            data = data[..BytesNeeded];
        var lines = new LineReader(data);
        if (!lines.TryNext(out var first))
            throw new XarHeaderException(XarHeaderError.UnexpectedEndOfFile, "empty file: expected the shebang line");
        if (!first.StartsWith(Encoding.ASCII.GetBytes(Shebang)))
            throw new XarHeaderException(XarHeaderError.InvalidShebang,
                $"not a XAR file: the first line must start with \"{Shebang}\"");

        var values = new List<KeyValuePair<string, string>>();
        var seen = new HashSet<string>(StringComparer.Ordinal);
        if (!lines.TryNext(out var second))
            throw new XarHeaderException(XarHeaderError.UnexpectedEndOfFile, "file ends after the shebang: expected OFFSET on line 2");
        var (firstName, offsetText) = ParseLine(second, seen);
        if (firstName != OffsetName)
            throw new XarHeaderException(XarHeaderError.MissingParameters, $"line 2 must be OFFSET=\"N\", found {firstName}");
        long offset = ParseOffset(offsetText);

        bool stopped = false;
        while (lines.TryNext(out var line))
        {
            if (line.SequenceEqual("#xar_stop"u8))
            {
                stopped = true;
                break;
            }
            var (name, value) = ParseLine(line, seen);
            if (name == TrampolineNamesName)
                CheckTrampolineNames(value);
            values.Add(new(name, value));
        }
        if (!stopped)
            throw new XarHeaderException(XarHeaderError.UnexpectedEndOfFile, $"no \"{StopMarker}\" line in the first {MaxHeaderSize} bytes");

        var missing = new List<string>();
        foreach (var required in new[] { OffsetName, UuidName, VersionName })
            if (!seen.Contains(required))
                missing.Add(required);
        if (missing.Count > 0)
            throw new XarHeaderException(XarHeaderError.MissingParameters, $"missing required header values: {string.Join(", ", missing)}");

        var header = new XarHeader(offset, values);
        CheckUuid(header.Uuid, fromFile: true);
        if (data.Length < offset + 4)
            throw new XarHeaderException(XarHeaderError.UnexpectedEndOfFile, $"file ends before OFFSET {offset}: no SquashFS image");
        if (!data.Slice((int)offset, 4).SequenceEqual(SquashFsMagic))
            throw new XarHeaderException(XarHeaderError.IncorrectMagic, $"no SquashFS magic (\"hsqs\") at OFFSET {offset}");
        return header;
    }

    private static (string Name, string Value) ParseLine(ReadOnlySpan<byte> line, HashSet<string> seen)
    {
        int eq = line.IndexOf((byte)'=');
        if (eq <= 0)
            throw Malformed(line);
        var rawValue = line[(eq + 1)..];
        if (rawValue.Length < 2 || rawValue[0] != '"' || rawValue[^1] != '"')
            throw Malformed(line);
        var inner = rawValue[1..^1];
        if (inner.Contains((byte)'"'))
            throw Malformed(line);
        string name = Encoding.UTF8.GetString(line[..eq]);
        string value = Encoding.UTF8.GetString(inner);
        if (!seen.Add(name))
            throw new XarHeaderException(XarHeaderError.DuplicateParameter, $"header value {name} is assigned more than once");
        return (name, value);
    }

    private static XarHeaderException Malformed(ReadOnlySpan<byte> line)
    {
        string text = Encoding.UTF8.GetString(line.Length > 80 ? line[..80] : line);
        return new XarHeaderException(XarHeaderError.MalformedLine, $"header line is not NAME=\"value\": {text}");
    }

    private static long ParseOffset(string text)
    {
        if (text.Length == 0 || text.Length > 18 || !text.All(char.IsAsciiDigit))
            throw new XarHeaderException(XarHeaderError.InvalidOffset, $"OFFSET \"{text}\" is not an unsigned integer");
        long offset = long.Parse(text, System.Globalization.CultureInfo.InvariantCulture);
        if (offset == 0 || offset % OffsetMultiple != 0)
            throw new XarHeaderException(XarHeaderError.InvalidOffset, $"OFFSET {offset} is not a positive multiple of {OffsetMultiple}");
        if (offset > MaxHeaderSize)
            throw new XarHeaderException(XarHeaderError.InvalidOffset, $"OFFSET {offset} is greater than the largest header ({MaxHeaderSize})");
        return offset;
    }

    private static void CheckTrampolineNames(string value)
    {
        if (value.Length <= 2 || value[0] != '\'' || value[^1] != '\'')
            throw new XarHeaderException(XarHeaderError.TrampolineError, "XAREXEC_TRAMPOLINE_NAMES must be non-empty names in single quotes");
        var names = value[1..^1].Split("' '");
        if (names.Any(n => n.Contains('\'') || n.Contains('"')))
            throw new XarHeaderException(XarHeaderError.TrampolineError, "XAREXEC_TRAMPOLINE_NAMES: quotes inside a name (more than one space between names?)");
        if (!names.Contains(RequiredTrampoline))
            throw new XarHeaderException(XarHeaderError.TrampolineError, $"XAREXEC_TRAMPOLINE_NAMES lacks the required name {RequiredTrampoline}");
    }

    // The UUID becomes a directory name in mount and cache paths: only hex digits may pass.
    private static void CheckUuid(string uuid, bool fromFile = false)
    {
        if (uuid.Length is 0 or > 64 || !uuid.All(char.IsAsciiHexDigit))
        {
            const string rule = "UUID must be 1 to 64 hex digits";
            if (fromFile)
                throw new XarHeaderException(XarHeaderError.InvalidUuid, $"{rule}, found \"{uuid}\"");
            throw new ArgumentException(rule, nameof(uuid));
        }
    }

    private static void CheckWritable(string name, string value)
    {
        if (name.Length == 0 || !name.All(c => char.IsAsciiLetterUpper(c) || char.IsAsciiDigit(c) || c == '_') || char.IsAsciiDigit(name[0]))
            throw new ArgumentException($"header name \"{name}\" must be upper-case letters, digits and _");
        if (name == OffsetName)
            throw new ArgumentException("OFFSET is written by the header itself");
        if (value.Contains('"') || value.Contains('\n') || value.Contains('\0'))
            throw new ArgumentException($"header value {name} must not contain a double quote, a newline or NUL");
    }

    /// <summary>The header bytes, padded with newlines to <see cref="Offset"/> (where the image goes).</summary>
    public byte[] ToBytes()
    {
        var text = new StringBuilder();
        text.Append(Shebang).Append('\n');
        text.Append(OffsetName).Append("=\"").Append(Offset).Append("\"\n");
        foreach (var (name, value) in _values)
            text.Append(name).Append("=\"").Append(value).Append("\"\n");
        text.Append(StopMarker).Append('\n');
        text.Append("echo This XAR file should not be executed by sh\n");
        text.Append("exit 1\n");
        text.Append("# Actual squashfs file begins at ").Append(Offset).Append('\n');
        byte[] body = Encoding.UTF8.GetBytes(text.ToString());
        if (body.Length > Offset)
            throw new InvalidOperationException($"header text is {body.Length} bytes, more than OFFSET {Offset}");
        var result = new byte[Offset];
        body.CopyTo(result, 0);
        result.AsSpan(body.Length).Fill((byte)'\n');
        return result;
    }

    private ref struct LineReader(ReadOnlySpan<byte> data)
    {
        private ReadOnlySpan<byte> _rest = data;
        private bool _done;

        public bool TryNext(out ReadOnlySpan<byte> line)
        {
            if (_done)
            {
                line = default;
                return false;
            }
            int nl = _rest.IndexOf((byte)'\n');
            if (nl < 0)
            {
                // The last piece counts as a line only if it is not empty (as a split would give).
                line = _rest;
                _done = true;
                return !line.IsEmpty;
            }
            line = _rest[..nl];
            _rest = _rest[(nl + 1)..];
            return true;
        }
    }
}
