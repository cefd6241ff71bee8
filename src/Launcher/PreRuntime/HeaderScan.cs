namespace Xar.Launcher.PreRuntime;

/// <summary>
/// The header values the fast start needs, found by the rules of <see cref="Xar.Runtime.XarHeader.Parse"/>
/// over the bytes read from the file. It accepts only headers that Parse accepts with the same values;
/// for anything it is unsure of it says no, and the full launcher parses (and names what is wrong).
/// </summary>
internal unsafe ref struct HeaderScan
{
    private const int MaxNames = 32;
    private const int OffsetMultiple = 4096, MaxHeaderSize = 8192;

    public NativeText Uuid;
    public NativeText ExecTarget;
    public NativeText MountRoot;
    public long Offset;

    public static bool TryScan(byte* data, int length, out HeaderScan header)
    {
        header = default;
        var lines = new Lines(new NativeText(data, length));
        if (!lines.TryNext(out var line) || !line.StartsWith("#!/usr/bin/env xarexec_fuse"u8))
            return false;
        if (!lines.TryNext(out line) || !TrySplit(line, out var name, out var value) || !name.SequenceEqual("OFFSET"u8))
            return false;
        if (!TryParseOffset(value, out header.Offset))
            return false;

        NativeText* seen = stackalloc NativeText[MaxNames];
        seen[0] = name;
        int seenCount = 1;
        bool stopped = false, hasVersion = false;
        while (lines.TryNext(out line))
        {
            if (line.SequenceEqual("#xar_stop"u8))
            {
                stopped = true;
                break;
            }
            if (!TrySplit(line, out name, out value) || !name.IsPlainAscii() || seenCount == MaxNames)
                return false;
            for (int i = 0; i < seenCount; i++)
                if (seen[i].SequenceEqual(name))
                    return false;
            seen[seenCount++] = name;
            if (name.SequenceEqual("UUID"u8))
                header.Uuid = value;
            else if (name.SequenceEqual("VERSION"u8))
                hasVersion = true;
            else if (name.SequenceEqual("XAREXEC_TARGET"u8))
                header.ExecTarget = value;
            else if (name.SequenceEqual("MOUNT_ROOT"u8))
                header.MountRoot = value;
            else if (name.SequenceEqual("XAREXEC_TRAMPOLINE_NAMES"u8) && !TrampolineNamesValid(value))
                return false;
        }
        if (!stopped || header.Uuid.IsNull || !hasVersion || !IsHexUuid(header.Uuid))
            return false;
        if (length < header.Offset + 4)
            return false;
        byte* magic = data + header.Offset;
        return magic[0] == 'h' && magic[1] == 's' && magic[2] == 'q' && magic[3] == 's';
    }

    /// <summary><c>NAME="value"</c>: a name before the first '=', the value in double quotes without one inside.</summary>
    private static bool TrySplit(NativeText line, out NativeText name, out NativeText value)
    {
        name = value = default;
        int eq = line.IndexOf((byte)'=');
        if (eq <= 0)
            return false;
        var raw = line.Slice(eq + 1);
        if (raw.Length < 2 || raw[0] != '"' || raw[raw.Length - 1] != '"')
            return false;
        value = raw.Slice(1, raw.Length - 2);
        if (value.IndexOf((byte)'"') >= 0)
            return false;
        name = line.Slice(0, eq);
        return true;
    }

    private static bool TryParseOffset(NativeText text, out long offset)
    {
        offset = 0;
        if (text.Length is 0 or > 18)
            return false;
        for (int i = 0; i < text.Length; i++)
        {
            if (text[i] is < (byte)'0' or > (byte)'9')
                return false;
            offset = offset * 10 + (text[i] - '0');
        }
        return offset != 0 && offset % OffsetMultiple == 0 && offset <= MaxHeaderSize;
    }

    private static bool IsHexUuid(NativeText uuid)
    {
        if (uuid.Length is 0 or > 64)
            return false;
        for (int i = 0; i < uuid.Length; i++)
            if (!char.IsAsciiHexDigit((char)uuid[i]))
                return false;
        return true;
    }

    /// <summary><c>'a' 'b' ...</c>: names in single quotes, one space apart, one of them invoke_xar_via_trampoline.</summary>
    private static bool TrampolineNamesValid(NativeText value)
    {
        if (value.Length <= 2 || !value.IsPlainAscii() || value[0] != '\'' || value[value.Length - 1] != '\'')
            return false;
        var inner = value.Slice(1, value.Length - 2);
        bool required = false;
        int start = 0;
        while (true)
        {
            int end = start;
            while (end < inner.Length && !(end + 2 < inner.Length && inner[end] == '\'' && inner[end + 1] == ' ' && inner[end + 2] == '\''))
                end++;
            var piece = inner.Slice(start, end - start);
            if (piece.IndexOf((byte)'\'') >= 0 || piece.IndexOf((byte)'"') >= 0)
                return false;
            required |= piece.SequenceEqual("invoke_xar_via_trampoline"u8);
            if (end >= inner.Length)
                return required;
            start = end + 3;
        }
    }

    /// <summary>Lines as XarHeader's reader yields them: split at '\n'; a last piece without one counts unless empty.</summary>
    private struct Lines(NativeText rest)
    {
        private NativeText _rest = rest;
        private bool _done;

        public bool TryNext(out NativeText line)
        {
            line = default;
            if (_done)
                return false;
            int nl = _rest.IndexOf((byte)'\n');
            if (nl < 0)
            {
                line = _rest;
                _done = true;
                return !line.IsEmpty;
            }
            line = _rest.Slice(0, nl);
            _rest = _rest.Slice(nl + 1);
            return true;
        }
    }
}
