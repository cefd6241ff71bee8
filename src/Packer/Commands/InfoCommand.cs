using System.CommandLine;
using System.Globalization;
using System.Text;
using System.Text.Json;
using Xar.Packer.Cli;
using Xar.Runtime;
using Xar.SquashFs;
using Xar.SquashFs.Compression;
using Xar.SquashFs.Format;

namespace Xar.Packer.Commands;

/// <summary>`xar info FILE [--json]`: the XAR header and the superblock, summarised.</summary>
public static class InfoCommand
{
    public static Command Create()
    {
        var file = ImageInput.FileArgument();
        var offset = ImageInput.OffsetOption();
        var json = new Option<bool>("--json") { Description = "one JSON object instead of text" };
        var command = new Command("info", "Show the XAR header and SquashFS superblock of a file.") { file, offset, json };
        command.SetAction(parse =>
        {
            string input = parse.GetValue(file)!;
            return CliRunner.Run(ImageInput.Display(input), () =>
            {
                using var archive = ImageInput.Open(input, parse.GetValue(offset));
                var fields = Collect(archive, archive.FileLength);
                var entrypoint = Entrypoint.Of(archive.Header);
                if (parse.GetValue(json))
                    WriteJson(archive.Header, entrypoint, fields);
                else
                    WriteText(archive.Header, entrypoint, fields);
                return ExitCodes.Success;
            });
        });
        return command;
    }

    /// <summary>
    /// What running the file starts: XAR_EXEC and its fixed arguments (XAR_EXEC_ARGS) when the header
    /// names them, else the XAREXEC_TARGET script (Facebook's tools, older xar); nothing for a bare image.
    /// </summary>
    private sealed record Entrypoint(string? Path, bool IsTargetScript, IReadOnlyList<byte[]> FixedArguments, string? ArgumentsError)
    {
        public static Entrypoint Of(XarHeader? header)
        {
            if (header?.Exec is { } exec)
            {
                try
                {
                    return new(exec, false, header.ExecArgs ?? [], null);
                }
                catch (XarHeaderException e)
                {
                    // Shown, not fatal: info is how one looks at a broken file.
                    return new(exec, false, [], e.Message);
                }
            }
            return new(header?.ExecTarget, header?.ExecTarget is not null, [], null);
        }
    }

    private static List<(string Key, object Value)> Collect(XarArchive archive, long fileLength)
    {
        var image = archive.Image;
        var sb = image.Superblock;
        var o = image.CompressionOptions;
        var list = new List<(string, object)>
        {
            // After an ELF runtime: a self-contained executable (a XAR) or a type-2 AppImage (a bare image).
            ("format", (archive.Header is null, archive.ArchiveOffset > 0) switch
            {
                (false, false) => "xar",
                (false, true) => "self-contained-xar",
                (true, false) => "squashfs",
                (true, true) => "elf-squashfs",
            }),
            ("file_size", fileLength),
        };
        if (archive.ArchiveOffset > 0)
            list.Add(("archive_offset", archive.ArchiveOffset));
        list.AddRange(new List<(string, object)>
        {
            ("image_offset", image.ImageOffset),
            ("squashfs_version", $"{sb.VersionMajor}.{sb.VersionMinor}"),
            ("compression", CompressorFactory.Name(sb.Compression)),
        });
        if (o.Level is int level)
            list.Add(("compression_level", level));
        if (sb.Compression == SquashFsCompression.Xz)
        {
            if (o.XzDictionarySize is int dict)
                list.Add(("xz_dictionary_size", dict));
            if (o.XzFilters != XzFilters.None)
                list.Add(("xz_filters", o.XzFilters.ToString().ToLowerInvariant().Replace(" ", "", StringComparison.Ordinal)));
        }
        if (sb.Compression == SquashFsCompression.Lz4)
            list.Add(("lz4_high_compression", o.Lz4HighCompression));
        list.Add(("block_size", sb.BlockSize));
        list.Add(("bytes_used", sb.BytesUsed));
        list.Add(("created", DateTimeOffset.FromUnixTimeSeconds(sb.Mtime).ToString("yyyy-MM-ddTHH:mm:ssZ", CultureInfo.InvariantCulture)));
        list.Add(("inodes", sb.InodeCount));
        list.Add(("fragments", sb.FragmentCount));
        list.Add(("ids", sb.IdCount));
        list.Add(("flags", FlagNames(sb.Flags)));
        var (dirs, files, symlinks, others, fileBytes) = CountEntries(image);
        list.Add(("directories", dirs));
        list.Add(("files", files));
        list.Add(("symlinks", symlinks));
        list.Add(("other_entries", others));
        list.Add(("file_bytes", fileBytes));
        list.Add(("exportable", sb.ExportTableStart != SquashFsConstants.InvalidTableStart));
        list.Add(("xattrs", sb.XattrIdTableStart != SquashFsConstants.InvalidTableStart));
        return list;
    }

    /// <summary>Entries by type (a hard-linked file counts once per name), from the directory tree only.</summary>
    private static (long Dirs, long Files, long Symlinks, long Others, long FileBytes) CountEntries(SquashFsImage image)
    {
        long dirs = 0, files = 0, symlinks = 0, others = 0, bytes = 0;
        var seen = new HashSet<uint>();
        var stack = new Stack<SquashFsEntry>();
        stack.Push(image.Root);
        while (stack.Count > 0)
        {
            var dir = stack.Pop();
            if (!seen.Add(dir.InodeNumber))
                throw new SquashFsCorruptException($"{dir}: directory reached twice (a loop in the image)");
            dirs++;
            foreach (var e in image.EnumerateDirectory(dir))
            {
                switch (e.EntryType)
                {
                    case SquashFsEntryType.Directory: stack.Push(e); break;
                    case SquashFsEntryType.RegularFile: files++; bytes += e.Length; break;
                    case SquashFsEntryType.SymbolicLink: symlinks++; break;
                    default: others++; break;
                }
            }
        }
        return (dirs, files, symlinks, others, bytes);
    }

    private static string FlagNames(SuperblockFlags flags)
    {
        var names = new List<string>();
        foreach (var f in Enum.GetValues<SuperblockFlags>())
            if (f != SuperblockFlags.None && (flags & f) != 0)
                names.Add(f.ToString());
        return string.Join(",", names);
    }

    private static void WriteText(XarHeader? xarHeader, Entrypoint entrypoint, List<(string Key, object Value)> fields)
    {
        var text = new StringBuilder();
        if (xarHeader is { } header)
        {
            text.Append("XAR header:\n");
            text.Append(CultureInfo.InvariantCulture, $"  OFFSET={header.Offset}\n");
            foreach (var (name, value) in header.Values)
                text.Append(CultureInfo.InvariantCulture, $"  {name}={value}\n");
            text.Append("Runs:\n");
            text.Append("  entrypoint: ").Append(entrypoint switch
            {
                { Path: null } => "none (no --exec: the file can be mounted and inspected, not run)",
                { IsTargetScript: true } => $"{entrypoint.Path} ({XarHeader.ExecTargetName}, run by /bin/sh)",
                _ => entrypoint.Path,
            }).Append('\n');
            if (entrypoint.ArgumentsError is not null)
                text.Append("  fixed_arguments: malformed ").Append(XarHeader.ExecArgsName).Append(" (").Append(entrypoint.ArgumentsError).Append(")\n");
            else if (entrypoint.FixedArguments.Count > 0)
                text.Append("  fixed_arguments: ").Append(string.Join(' ', entrypoint.FixedArguments.Select(ShellWord))).Append('\n');
            text.Append("  signature: ").Append(Signature(header) switch
            {
                null => "none",
                { Signature: null } => "malformed " + Xar.Runtime.Signing.XarSignatureField.Name,
                var (s, _) => $"minisign key {Xar.Runtime.Signing.MinisignPublicKey.FormatKeyId(s.KeyId)}, trusted comment: {s.TrustedCommentText} (not checked here: xar verify --key PUBKEY checks it)",
            }).Append('\n');
        }
        text.Append("SquashFS:\n");
        foreach (var (key, value) in fields)
            text.Append(CultureInfo.InvariantCulture, $"  {key}: {Format(value)}\n");
        StandardOutput.Writer.Write(text.ToString());
    }

    /// <summary>The header's signature, parsed (not checked); null when it has none, (null, value) when it is malformed.</summary>
    private static (Xar.Runtime.Signing.MinisignSignature? Signature, string Value)? Signature(XarHeader header)
    {
        if (header[Xar.Runtime.Signing.XarSignatureField.Name] is not { } value)
            return null;
        try
        {
            return (Xar.Runtime.Signing.MinisignSignature.ParseHeaderValue(value), value);
        }
        catch (Xar.Runtime.Signing.SignatureFormatException)
        {
            return (null, value);
        }
    }

    private static string Format(object value) => value switch
    {
        bool b => b ? "yes" : "no",
        IFormattable f => f.ToString(null, CultureInfo.InvariantCulture),
        _ => value.ToString() ?? "",
    };

    /// <summary>
    /// One argument as sh would take it back: bare when it holds only safe characters, else in single
    /// quotes, or as $'...' with \xNN escapes when it holds control bytes or bytes that are not UTF-8.
    /// </summary>
    internal static string ShellWord(byte[] argument)
    {
        if (argument.Length > 0 && argument.All(b => char.IsAsciiLetterOrDigit((char)b) || "_@%+=:,./-".Contains((char)b)))
            return Encoding.ASCII.GetString(argument);
        string? text = null;
        try
        {
            text = new UTF8Encoding(false, throwOnInvalidBytes: true).GetString(argument);
        }
        catch (DecoderFallbackException)
        {
        }
        if (text is not null && !text.Any(char.IsControl))
            return "'" + text.Replace("'", "'\\''", StringComparison.Ordinal) + "'";
        var escaped = new StringBuilder("$'");
        foreach (byte b in argument)
        {
            if (b is (byte)'\'' or (byte)'\\')
                escaped.Append('\\').Append((char)b);
            else if (b is >= 0x20 and < 0x7F)
                escaped.Append((char)b);
            else
                escaped.Append(CultureInfo.InvariantCulture, $"\\x{b:x2}");
        }
        return escaped.Append('\'').ToString();
    }

    private static void WriteJson(XarHeader? xarHeader, Entrypoint entrypoint, List<(string Key, object Value)> fields)
    {
        // Written whole at the end, so that nothing reaches stdout if anything fails on the way.
        var json = new MemoryStream();
        using (var w = new Utf8JsonWriter(json, new JsonWriterOptions { Indented = true }))
        {
            w.WriteStartObject();
            if (xarHeader is { } header)
            {
                w.WriteStartObject("xar");
                w.WriteNumber("OFFSET", header.Offset);
                foreach (var (name, value) in header.Values)
                    w.WriteString(name, value);
                w.WriteEndObject();
            }
            // Derived from the header: what running the file starts (XAR_EXEC, else XAREXEC_TARGET), and
            // the fixed arguments (not-UTF-8 bytes shown as U+FFFD; the exact bytes are in xar.XAR_EXEC_ARGS).
            if (entrypoint.Path is null)
                w.WriteNull("entrypoint");
            else
                w.WriteString("entrypoint", entrypoint.Path);
            if (xarHeader is { } signedHeader && Signature(signedHeader) is { Signature: { } signature })
            {
                w.WriteStartObject("signature");
                w.WriteString("key_id", Xar.Runtime.Signing.MinisignPublicKey.FormatKeyId(signature.KeyId));
                w.WriteString("trusted_comment", signature.TrustedCommentText);
                w.WriteEndObject();
            }
            else
            {
                w.WriteNull("signature");
            }
            if (entrypoint.ArgumentsError is not null)
                w.WriteNull("fixed_arguments");
            else
            {
                w.WriteStartArray("fixed_arguments");
                foreach (byte[] argument in entrypoint.FixedArguments)
                    w.WriteStringValue(Encoding.UTF8.GetString(argument));
                w.WriteEndArray();
            }
            foreach (var (key, value) in fields)
            {
                switch (value)
                {
                    case bool b: w.WriteBoolean(key, b); break;
                    case int i: w.WriteNumber(key, i); break;
                    case uint u: w.WriteNumber(key, u); break;
                    case long l: w.WriteNumber(key, l); break;
                    case ulong ul: w.WriteNumber(key, ul); break;
                    case ushort us: w.WriteNumber(key, us); break;
                    default: w.WriteString(key, value.ToString()); break;
                }
            }
            w.WriteEndObject();
        }
        json.Write("\n"u8);
        json.WriteTo(StandardOutput.Stream);
    }
}
