namespace Xar.Runtime;

/// <summary>Which rule of the header a scan found broken (<see cref="XarHeaderScan.Fault"/>); None when it holds.</summary>
public enum XarHeaderFault : byte
{
    None,
    Empty,
    NoShebang,
    EndsAfterShebang,
    MalformedLine,
    FirstValueNotOffset,
    OffsetNotANumber,
    OffsetNotAMultiple,
    OffsetTooLarge,
    DuplicateName,
    NoStopMarker,
    MissingValues,
    InvalidUuid,
    TrampolineNotQuoted,
    TrampolineQuoteInName,
    TrampolineRequiredNameMissing,
    EndsBeforeImage,
    NoImageMagic,
}

/// <summary>
/// The one implementation of the XAR header rules (Facebook's XarParser): a scan of the first bytes of a
/// file that allocates nothing and throws nothing, so the launch core runs it before the .NET runtime
/// starts; <see cref="XarHeader.Parse"/> turns its result into values and messages. Values are slices of
/// the scanned bytes.
/// </summary>
public ref struct XarHeaderScan
{
    public const int OffsetMultiple = 4096, MaxHeaderSize = 8192;
    /// <summary>Bytes a reader needs for any header: the largest header plus the image magic.</summary>
    public const int BytesNeeded = MaxHeaderSize + 4;
    public const int MissingUuid = 1, MissingVersion = 2;

    public XarHeaderFault Fault;
    /// <summary>The text the fault is about (a line, a name, a value), for messages.</summary>
    public ReadOnlySpan<byte> FaultText;
    /// <summary>With <see cref="XarHeaderFault.MissingValues"/>: <see cref="MissingUuid"/> | <see cref="MissingVersion"/>.</summary>
    public int Missing;

    public long Offset;
    public ReadOnlySpan<byte> Uuid, Version, ExecTarget, MountRoot, Exec, ExecArgs;
    /// <summary>XAR_SIGNATURE's value (Signing.XarSignatureField), when <see cref="HasSignature"/>.</summary>
    public ReadOnlySpan<byte> Signature;
    public bool HasSignature;
    /// <summary>The NAME="value" lines after OFFSET, up to (not including) the stop marker.</summary>
    public ReadOnlySpan<byte> ValueLines;

    public readonly bool IsValid => Fault == XarHeaderFault.None;

    public static XarHeaderScan Scan(ReadOnlySpan<byte> data)
    {
        var scan = new XarHeaderScan();
        scan.Run(data.Length > BytesNeeded ? data[..BytesNeeded] : data);
        return scan;
    }

    private bool Fail(XarHeaderFault fault, ReadOnlySpan<byte> text = default)
    {
        Fault = fault;
        FaultText = text;
        return false;
    }

    private bool Run(ReadOnlySpan<byte> data)
    {
        var lines = new HeaderLines(data);
        if (!lines.TryNext(out var line))
            return Fail(XarHeaderFault.Empty);
        if (!line.StartsWith("#!/usr/bin/env xarexec_fuse"u8))
            return Fail(XarHeaderFault.NoShebang);
        if (!lines.TryNext(out line))
            return Fail(XarHeaderFault.EndsAfterShebang);
        if (!TrySplit(line, out var name, out var value))
            return Fail(XarHeaderFault.MalformedLine, line);
        if (!name.SequenceEqual("OFFSET"u8))
            return Fail(XarHeaderFault.FirstValueNotOffset, name);
        if (!TryParseOffset(value))
            return false;

        int valuesStart = lines.Position;
        bool stopped = false;
        int valuesEnd = valuesStart;
        while (lines.TryNext(out line))
        {
            if (line.SequenceEqual("#xar_stop"u8))
            {
                stopped = true;
                break;
            }
            if (!TrySplit(line, out name, out value))
                return Fail(XarHeaderFault.MalformedLine, line);
            if (name.SequenceEqual("OFFSET"u8) || IsNameBefore(data[valuesStart..valuesEnd], name))
                return Fail(XarHeaderFault.DuplicateName, name);
            valuesEnd = lines.Position;
            if (name.SequenceEqual("UUID"u8))
                Uuid = value;
            else if (name.SequenceEqual("VERSION"u8))
                Version = value;
            else if (name.SequenceEqual("XAREXEC_TARGET"u8))
                ExecTarget = value;
            else if (name.SequenceEqual("MOUNT_ROOT"u8))
                MountRoot = value;
            else if (name.SequenceEqual("XAR_EXEC"u8))
                Exec = value;
            else if (name.SequenceEqual("XAR_EXEC_ARGS"u8))
                ExecArgs = value;
            else if (name.SequenceEqual("XAR_SIGNATURE"u8))
            {
                Signature = value;
                HasSignature = true;
            }
            else if (name.SequenceEqual("XAREXEC_TRAMPOLINE_NAMES"u8) && !TrampolineNamesValid(value))
                return false;
            // Uuid and the others stay unset (default) when absent; a present empty value is a zero-length slice of data.
            if (name.SequenceEqual("UUID"u8))
                _hasUuid = true;
            else if (name.SequenceEqual("VERSION"u8))
                _hasVersion = true;
        }
        if (!stopped)
            return Fail(XarHeaderFault.NoStopMarker);
        ValueLines = data[valuesStart..valuesEnd];
        Missing = (_hasUuid ? 0 : MissingUuid) | (_hasVersion ? 0 : MissingVersion);
        if (Missing != 0)
            return Fail(XarHeaderFault.MissingValues);
        // The UUID becomes a directory name in mount and cache paths: only hex digits may pass.
        if (Uuid.Length is 0 or > 64 || !IsHex(Uuid))
            return Fail(XarHeaderFault.InvalidUuid, Uuid);
        if (data.Length < Offset + 4)
            return Fail(XarHeaderFault.EndsBeforeImage);
        if (!data.Slice((int)Offset, 4).SequenceEqual("hsqs"u8))
            return Fail(XarHeaderFault.NoImageMagic);
        return true;
    }

    private bool _hasUuid, _hasVersion;

    /// <summary><c>NAME="value"</c>: a name before the first '=', the value in double quotes without one inside.</summary>
    public static bool TrySplit(ReadOnlySpan<byte> line, out ReadOnlySpan<byte> name, out ReadOnlySpan<byte> value)
    {
        name = value = default;
        int eq = line.IndexOf((byte)'=');
        if (eq <= 0)
            return false;
        var raw = line[(eq + 1)..];
        if (raw.Length < 2 || raw[0] != '"' || raw[^1] != '"')
            return false;
        value = raw[1..^1];
        if (value.IndexOf((byte)'"') >= 0)
            return false;
        name = line[..eq];
        return true;
    }

    /// <summary>True when one of the (already valid) <paramref name="lines"/> assigns <paramref name="name"/>.</summary>
    private static bool IsNameBefore(ReadOnlySpan<byte> lines, ReadOnlySpan<byte> name)
    {
        var reader = new HeaderLines(lines);
        while (reader.TryNext(out var line))
            if (line.Length > name.Length && line[name.Length] == '=' && line.StartsWith(name))
                return true;
        return false;
    }

    private bool TryParseOffset(ReadOnlySpan<byte> text)
    {
        if (text.Length == 0)
            return Fail(XarHeaderFault.OffsetNotANumber, text);
        long offset = 0;
        bool huge = false;
        foreach (byte b in text)
        {
            if (b is < (byte)'0' or > (byte)'9')
                return Fail(XarHeaderFault.OffsetNotANumber, text);
            if (offset > MaxHeaderSize)
                huge = true; // too large whatever follows; not computed on, so no overflow
            else
                offset = offset * 10 + (b - '0');
        }
        Offset = offset;
        if (huge)
            return Fail(XarHeaderFault.OffsetTooLarge, text);
        if (offset == 0 || offset % OffsetMultiple != 0)
            return Fail(XarHeaderFault.OffsetNotAMultiple, text);
        if (offset > MaxHeaderSize)
            return Fail(XarHeaderFault.OffsetTooLarge, text);
        return true;
    }

    private static bool IsHex(ReadOnlySpan<byte> text)
    {
        foreach (byte b in text)
            if (!(b is >= (byte)'0' and <= (byte)'9' or >= (byte)'a' and <= (byte)'f' or >= (byte)'A' and <= (byte)'F'))
                return false;
        return true;
    }

    /// <summary><c>'a' 'b' ...</c>: names in single quotes, one space apart, one of them invoke_xar_via_trampoline.</summary>
    private bool TrampolineNamesValid(ReadOnlySpan<byte> value)
    {
        if (value.Length <= 2 || value[0] != '\'' || value[^1] != '\'')
            return Fail(XarHeaderFault.TrampolineNotQuoted, value);
        var inner = value[1..^1];
        bool required = false;
        while (true)
        {
            int end = inner.IndexOf("' '"u8);
            var piece = end < 0 ? inner : inner[..end];
            if (piece.IndexOf((byte)'\'') >= 0 || piece.IndexOf((byte)'"') >= 0)
                return Fail(XarHeaderFault.TrampolineQuoteInName, value);
            required |= piece.SequenceEqual("invoke_xar_via_trampoline"u8);
            if (end < 0)
                return required || Fail(XarHeaderFault.TrampolineRequiredNameMissing, value);
            inner = inner[(end + 3)..];
        }
    }
}

/// <summary>Lines as the header reader takes them: split at '\n'; a last piece without one counts unless empty.</summary>
public ref struct HeaderLines(ReadOnlySpan<byte> data)
{
    private readonly ReadOnlySpan<byte> _data = data;
    private bool _done;

    /// <summary>Where the next line starts.</summary>
    public int Position { get; private set; }

    public bool TryNext(out ReadOnlySpan<byte> line)
    {
        line = default;
        if (_done)
            return false;
        var rest = _data[Position..];
        int nl = rest.IndexOf((byte)'\n');
        if (nl < 0)
        {
            line = rest;
            _done = true;
            Position = _data.Length;
            return !line.IsEmpty;
        }
        line = rest[..nl];
        Position += nl + 1;
        return true;
    }
}
