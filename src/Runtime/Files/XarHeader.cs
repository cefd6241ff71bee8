using System.Text;

namespace Xar.Runtime;

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
    public const int OffsetMultiple = XarHeaderScan.OffsetMultiple;
    public const int MaxHeaderSize = XarHeaderScan.MaxHeaderSize;
    /// <summary>Bytes a reader needs to parse any header: the largest header plus the image magic.</summary>
    public const int BytesNeeded = XarHeaderScan.BytesNeeded;

    public const string OffsetName = "OFFSET";
    public const string UuidName = "UUID";
    public const string VersionName = "VERSION";
    public const string ExecTargetName = "XAREXEC_TARGET";
    public const string DependenciesName = "DEPENDENCIES";
    public const string MountRootName = "MOUNT_ROOT";
    public const string TrampolineNamesName = "XAREXEC_TRAMPOLINE_NAMES";
    /// <summary>The entrypoint the bootstrap execs, relative to the image root (see <see cref="Exec"/>).</summary>
    public const string ExecName = "XAR_EXEC";
    /// <summary>The entrypoint's fixed arguments (see <see cref="ExecArgs"/> and <see cref="XarExecArguments"/>).</summary>
    public const string ExecArgsName = "XAR_EXEC_ARGS";
    private const string RequiredTrampoline = "invoke_xar_via_trampoline";

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
        CheckFits();
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

    /// <summary>
    /// <c>XAR_EXEC</c>: the entrypoint that the bootstrap script (<see cref="ExecTarget"/>) execs, relative
    /// to the image root, written by <c>xar pack --exec</c> so that a launcher can exec it directly
    /// (with <see cref="ExecArgs"/>, then the caller's arguments). Facebook's launcher ignores it.
    /// </summary>
    public string? Exec => this[ExecName];

    /// <summary>
    /// <c>XAR_EXEC_ARGS</c> decoded: the fixed arguments placed before the caller's; null when absent.
    /// </summary>
    /// <exception cref="XarHeaderException">The value is malformed (see <see cref="XarExecArguments"/>).</exception>
    public IReadOnlyList<byte[]>? ExecArgs => this[ExecArgsName] is { } value ? XarExecArguments.Decode(value) : null;

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

    /// <summary>The header of a XAR file, or of the XAR a self-contained executable holds after its ELF runtime.</summary>
    public static XarHeader ReadFromFile(string path)
    {
        using var handle = File.OpenHandle(path, FileMode.Open, FileAccess.Read, FileShare.Read);
        long start;
        try
        {
            start = XarArchive.LocateArchive(handle);
        }
        catch (Xar.SquashFs.Format.InvalidArchiveException e)
        {
            throw new XarHeaderException(XarHeaderError.InvalidShebang, e.Message);
        }
        return XarHeaderReader.Read(handle, start);
    }

    /// <summary>
    /// Parses the first bytes of a file (at least up to OFFSET + 4, at most <see cref="BytesNeeded"/>
    /// are looked at) by the rules of Facebook's XarParser (<see cref="XarHeaderScan"/>).
    /// </summary>
    /// <exception cref="XarHeaderException">The bytes break a rule; the message names it.</exception>
    public static XarHeader Parse(ReadOnlySpan<byte> data)
    {
        var scan = XarHeaderScan.Scan(data);
        if (!scan.IsValid)
            throw Describe(scan);
        var values = new List<KeyValuePair<string, string>>();
        var lines = new HeaderLines(scan.ValueLines);
        while (lines.TryNext(out var line))
        {
            XarHeaderScan.TrySplit(line, out var name, out var value);
            values.Add(new(Encoding.UTF8.GetString(name), Encoding.UTF8.GetString(value)));
        }
        return new XarHeader(scan.Offset, values);
    }

    /// <summary>The exception for a header the scan rejected: which rule, in words.</summary>
    internal static XarHeaderException Describe(in XarHeaderScan scan)
    {
        string text = Encoding.UTF8.GetString(scan.FaultText.Length > 80 && scan.Fault == XarHeaderFault.MalformedLine ? scan.FaultText[..80] : scan.FaultText);
        return scan.Fault switch
        {
            XarHeaderFault.Empty => new(XarHeaderError.UnexpectedEndOfFile, "empty file: expected the shebang line"),
            XarHeaderFault.NoShebang => new(XarHeaderError.InvalidShebang, $"not a XAR file: the first line must start with \"{Shebang}\""),
            XarHeaderFault.EndsAfterShebang => new(XarHeaderError.UnexpectedEndOfFile, "file ends after the shebang: expected OFFSET on line 2"),
            XarHeaderFault.MalformedLine => new(XarHeaderError.MalformedLine, $"header line is not NAME=\"value\": {text}"),
            XarHeaderFault.FirstValueNotOffset => new(XarHeaderError.MissingParameters, $"line 2 must be OFFSET=\"N\", found {text}"),
            XarHeaderFault.OffsetNotANumber => new(XarHeaderError.InvalidOffset, $"OFFSET \"{text}\" is not an unsigned integer"),
            XarHeaderFault.OffsetNotAMultiple => new(XarHeaderError.InvalidOffset, $"OFFSET {scan.Offset} is not a positive multiple of {OffsetMultiple}"),
            XarHeaderFault.OffsetTooLarge => new(XarHeaderError.InvalidOffset, $"OFFSET {text} is greater than the largest header ({MaxHeaderSize})"),
            XarHeaderFault.DuplicateName => new(XarHeaderError.DuplicateParameter, $"header value {text} is assigned more than once"),
            XarHeaderFault.NoStopMarker => new(XarHeaderError.UnexpectedEndOfFile, $"no \"{StopMarker}\" line in the first {MaxHeaderSize} bytes"),
            XarHeaderFault.MissingValues => new(XarHeaderError.MissingParameters, "missing required header values: " + (scan.Missing switch
            {
                XarHeaderScan.MissingUuid => UuidName,
                XarHeaderScan.MissingVersion => VersionName,
                _ => UuidName + ", " + VersionName,
            })),
            XarHeaderFault.InvalidUuid => new(XarHeaderError.InvalidUuid, $"UUID must be 1 to 64 hex digits, found \"{text}\""),
            XarHeaderFault.TrampolineNotQuoted => new(XarHeaderError.TrampolineError, "XAREXEC_TRAMPOLINE_NAMES must be non-empty names in single quotes"),
            XarHeaderFault.TrampolineQuoteInName => new(XarHeaderError.TrampolineError, "XAREXEC_TRAMPOLINE_NAMES: quotes inside a name (more than one space between names?)"),
            XarHeaderFault.TrampolineRequiredNameMissing => new(XarHeaderError.TrampolineError, $"XAREXEC_TRAMPOLINE_NAMES lacks the required name {RequiredTrampoline}"),
            XarHeaderFault.EndsBeforeImage => new(XarHeaderError.UnexpectedEndOfFile, $"file ends before OFFSET {scan.Offset}: no SquashFS image"),
            _ => new(XarHeaderError.IncorrectMagic, $"no SquashFS magic (\"hsqs\") at OFFSET {scan.Offset}"),
        };
    }

    private static void CheckUuid(string uuid)
    {
        if (uuid.Length is 0 or > 64 || !uuid.All(char.IsAsciiHexDigit))
            throw new ArgumentException("UUID must be 1 to 64 hex digits", nameof(uuid));
    }

    private static void CheckWritable(string name, string value)
    {
        if (name.Length == 0 || !name.All(c => char.IsAsciiLetterUpper(c) || char.IsAsciiDigit(c) || c == '_') || char.IsAsciiDigit(name[0]))
            throw new ArgumentException($"header name \"{name}\" must be upper-case letters, digits and _");
        if (name == OffsetName)
            throw new ArgumentException("OFFSET is written by the header itself");
        if (!IsWritableValue(value))
            throw new ArgumentException($"header value {name} must not contain a double quote, a newline, NUL, $, ` or \\ (run by sh, the header's lines are assignments in double quotes, where the last three expand)");
    }

    /// <summary>
    /// True when <paramref name="value"/> can stand between the double quotes of a header line. The lines
    /// before the stop marker are also shell assignments (a file run by sh executes them), so besides what
    /// the parser forbids ('"', newline), nothing may expand there: no '$', '`' or '\\'.
    /// </summary>
    public static bool IsWritableValue(string value) => value.AsSpan().IndexOfAny("\"\n\0$`\\") < 0;

    /// <summary>The header text must end before OFFSET, where the image starts.</summary>
    private void CheckFits()
    {
        int length = Encoding.UTF8.GetByteCount(Text());
        if (length <= Offset)
            return;
        var (longest, longestValue) = _values.MaxBy(v => Encoding.UTF8.GetByteCount(v.Value));
        throw new ArgumentException($"the XAR header would take {length} bytes, more than the {Offset} before the image; "
            + $"its longest value, {longest}, takes {Encoding.UTF8.GetByteCount(longestValue)}");
    }

    /// <summary>The header bytes, padded with newlines to <see cref="Offset"/> (where the image goes).</summary>
    public byte[] ToBytes()
    {
        byte[] body = Encoding.UTF8.GetBytes(Text());
        if (body.Length > Offset)
            throw new InvalidOperationException($"header text is {body.Length} bytes, more than OFFSET {Offset}");
        var result = new byte[Offset];
        body.CopyTo(result, 0);
        result.AsSpan(body.Length).Fill((byte)'\n');
        return result;
    }

    private string Text()
    {
        var text = new StringBuilder();
        text.Append(Shebang).Append('\n');
        text.Append(OffsetName).Append("=\"").Append(Offset).Append("\"\n");
        foreach (var (name, value) in _values)
            text.Append(name).Append("=\"").Append(value).Append("\"\n");
        text.Append(StopMarker).Append('\n');
        // Run by sh (no launcher on PATH, or `sh app.xar`): say what to do, on stderr. The lines above
        // are plain assignments (IsWritableValue), so nothing else runs before this.
        text.Append("echo \"$0 is a XAR file: it runs with xar's launcher, xarexec, on PATH as xarexec_fuse ")
            .Append("(make install, in xar's sources, puts it there), or as a self-contained build\" >&2\n");
        text.Append("exit 1\n");
        text.Append("# Actual squashfs file begins at ").Append(Offset).Append('\n');
        return text.ToString();
    }
}
