using System.Globalization;
using System.Text;
using Xar.Posix;

namespace Xar.Runtime.Signing;

/// <summary>
/// <c>xar sign</c>: puts a minisign signature of the file's <see cref="SignedStatement"/> into its header, as the
/// line <c>XAR_SIGNATURE="..."</c> just before <c>#xar_stop</c> (replacing an earlier one). The image, the runtime
/// and every other header line stay byte for byte (the UUID too); the text after <c>#xar_stop</c> is kept and the
/// newline padding shrinks. The file is rewritten beside itself and renamed over (its mode kept): a failure leaves it as it was.
/// </summary>
public static class XarSigner
{
    /// <summary>The trusted comment minisign writes by default: the time and the file name.</summary>
    public static string DefaultTrustedComment(string path) =>
        $"timestamp:{DateTimeOffset.UtcNow.ToUnixTimeSeconds().ToString(CultureInfo.InvariantCulture)}\tfile:{Path.GetFileName(path)}\thashed";

    /// <exception cref="SignatureFormatException">The file cannot carry a signature, or the line does not fit.</exception>
    public static MinisignSignature Sign(string path, MinisignSecretKey key, string trustedComment)
    {
        using var handle = File.OpenHandle(path, FileMode.Open, FileAccess.Read);
        long archiveOffset = XarArchive.LocateArchive(handle);
        byte[] start = XarHeaderReader.ReadBytes(handle, archiveOffset);
        if (!XarHeader.LooksLikeXar(start))
            throw new SignatureFormatException("not a XAR file: a bare SquashFS image has no header to hold a signature");
        // One read of the header, and one of every other byte: the copy is hashed as it is written, then signed.
        var (prefix, imageOffset, _) = SignedStatement.ParseHeader(start, archiveOffset);
        long headerSize = imageOffset - archiveOffset;
        byte[] comment = Encoding.UTF8.GetBytes(trustedComment);
        // The line must fit before anything is written: a signature's header value has one length for a given comment.
        NewHeader(start.AsSpan(0, (int)headerSize), MinisignSignature.HeaderValueLength(comment));
        UnixFileMode? mode = OperatingSystem.IsWindows() ? null : File.GetUnixFileMode(handle);
        MinisignSignature? signature = null;
        AtomicFile.Write(path, mode, output =>
        {
            byte[] digest = SignedStatement.CopyWithDigest(handle, archiveOffset, prefix, imageOffset, output);
            signature = MinisignSignature.Sign(key, digest, comment);
            output.Position = archiveOffset;
            output.Write(NewHeader(start.AsSpan(0, (int)headerSize), signature.ToHeaderValue()));
        });
        return signature!;
    }

    /// <summary>The header with a placeholder of <paramref name="valueLength"/> bytes as the value: throws when it would not fit.</summary>
    private static byte[] NewHeader(ReadOnlySpan<byte> old, int valueLength) => NewHeader(old, new string('x', valueLength));

    /// <summary>The header with the signature line in place of an old one (or before #xar_stop), padded to its size.</summary>
    private static byte[] NewHeader(ReadOnlySpan<byte> old, string value)
    {
        var text = new MemoryStream();
        var lines = new HeaderLines(old);
        int tailStart = old.Length;
        while (lines.TryNext(out var line))
        {
            if (line.SequenceEqual("#xar_stop"u8))
            {
                text.Write(Encoding.ASCII.GetBytes($"{XarSignatureField.Name}=\"{value}\"\n"));
                text.Write(line);
                text.WriteByte((byte)'\n');
                tailStart = lines.Position;
                break;
            }
            if (!line.StartsWith(SignedStatement.XarSignatureLinePrefix))
            {
                text.Write(line);
                text.WriteByte((byte)'\n');
            }
        }
        // What follows #xar_stop (the message for sh), without the newlines that pad it to OFFSET.
        var tail = old[tailStart..].TrimEnd((byte)'\n');
        text.Write(tail);
        if (!tail.IsEmpty)
            text.WriteByte((byte)'\n');
        if (text.Length > old.Length)
            throw new SignatureFormatException($"the signature line does not fit in the header: it would take {text.Length} bytes, more than the {old.Length} before the image (a shorter --trusted-comment helps)");
        var result = new byte[old.Length];
        text.ToArray().CopyTo(result, 0);
        result.AsSpan((int)text.Length).Fill((byte)'\n');
        return result;
    }
}
