using System.Buffers;
using System.Globalization;
using System.Text;
using Microsoft.Win32.SafeHandles;
using Org.BouncyCastle.Crypto.Digests;

namespace Xar.Runtime.Signing;

/// <summary>
/// What a XAR's signature signs, byte for byte (minisign prehashes it with BLAKE2b-512):
/// <code>
/// xar signed statement 1\n
/// archive-offset R\n                 where the XAR starts in the file: 0, or after a self-contained file's runtime
/// every header line from the shebang to "#xar_stop", each with its \n, except the XAR_SIGNATURE line
/// the file's bytes before R          (a self-contained file's runtime; nothing for a plain XAR)
/// the image: from R + OFFSET to the end of the file
/// </code>
/// So every header value (OFFSET, UUID, XAREXEC_TARGET, MOUNT_ROOT, DEPENDENCIES, XAR_EXEC...), the runtime and the
/// whole image are covered; only the signature line and the text after "#xar_stop" (which no launcher reads) are not.
/// <c>xar verify --export-statement</c> writes these bytes, so <c>minisign -V</c> can check the signature on its own.
/// </summary>
public static class SignedStatement
{
    public const string Magic = "xar signed statement 1";

    /// <summary>The header at the archive's start, checked: the statement's text part and the image's offset.</summary>
    public static (byte[] Prefix, long ImageOffset, string? Signature) ReadHeader(SafeFileHandle handle, long archiveOffset) =>
        ParseHeader(XarHeaderReader.ReadBytes(handle, archiveOffset), archiveOffset);

    /// <summary><see cref="ReadHeader"/> for header bytes already read (from <paramref name="archiveOffset"/> on).</summary>
    public static (byte[] Prefix, long ImageOffset, string? Signature) ParseHeader(byte[] data, long archiveOffset)
    {
        var header = XarHeader.Parse(data); // throws with the rule broken
        var prefix = new MemoryStream();
        prefix.Write(Encoding.ASCII.GetBytes($"{Magic}\narchive-offset {archiveOffset.ToString(CultureInfo.InvariantCulture)}\n"));
        var lines = new HeaderLines(data);
        while (lines.TryNext(out var line))
        {
            if (line.StartsWith(XarSignatureLinePrefix))
                continue;
            prefix.Write(line);
            prefix.WriteByte((byte)'\n');
            if (line.SequenceEqual("#xar_stop"u8))
                break;
        }
        return (prefix.ToArray(), archiveOffset + header.Offset, header[XarSignatureField.Name]);
    }

    internal static ReadOnlySpan<byte> XarSignatureLinePrefix => "XAR_SIGNATURE="u8;

    /// <summary>The statement's BLAKE2b-512, read through <paramref name="handle"/> (one pass over the file).</summary>
    public static byte[] Digest(SafeFileHandle handle, long archiveOffset, byte[] prefix, long imageOffset)
    {
        var digest = new Blake2bDigest(512);
        Feed(handle, archiveOffset, prefix, imageOffset, (buffer, count) => digest.BlockUpdate(buffer, 0, count));
        var result = new byte[64];
        digest.DoFinal(result, 0);
        return result;
    }

    /// <summary>Writes the statement's bytes (for minisign to check).</summary>
    public static void Write(Stream output, SafeFileHandle handle, long archiveOffset, byte[] prefix, long imageOffset) =>
        Feed(handle, archiveOffset, prefix, imageOffset, (buffer, count) => output.Write(buffer, 0, count));

    /// <summary>
    /// Copies the file as it is laid out (the runtime before <paramref name="archiveOffset"/>, room for the header up to
    /// <paramref name="imageOffset"/>, filled with zeros, then the image) into <paramref name="output"/>, and returns the
    /// statement's BLAKE2b-512 over exactly the bytes copied: each byte is read once, so what is signed is what was
    /// written, even when someone changes the file meanwhile. The caller writes the header into its room.
    /// </summary>
    public static byte[] CopyWithDigest(SafeFileHandle handle, long archiveOffset, byte[] prefix, long imageOffset, Stream output)
    {
        var digest = new Blake2bDigest(512);
        digest.BlockUpdate(prefix, 0, prefix.Length);
        ReadParts(handle, archiveOffset, imageOffset, (buffer, count) =>
        {
            digest.BlockUpdate(buffer, 0, count);
            output.Write(buffer, 0, count);
        }, headerRoom: () => output.Write(new byte[imageOffset - archiveOffset])); // OFFSET: a few KiB
        var result = new byte[64];
        digest.DoFinal(result, 0);
        return result;
    }

    private static void Feed(SafeFileHandle handle, long archiveOffset, byte[] prefix, long imageOffset, Action<byte[], int> sink)
    {
        sink(prefix, prefix.Length);
        ReadParts(handle, archiveOffset, imageOffset, sink, headerRoom: null);
    }

    /// <summary>The statement's file parts in order: the bytes before the archive, then the image (to the end of the file).</summary>
    private static void ReadParts(SafeFileHandle handle, long archiveOffset, long imageOffset, Action<byte[], int> sink, Action? headerRoom)
    {
        byte[] buffer = ArrayPool<byte>.Shared.Rent(1 << 20);
        try
        {
            for (long position = 0; position < archiveOffset;)
            {
                int n = RandomAccess.Read(handle, buffer.AsSpan(0, (int)Math.Min(buffer.Length, archiveOffset - position)), position);
                if (n == 0)
                    throw new IOException("the file ends inside its runtime");
                sink(buffer, n);
                position += n;
            }
            headerRoom?.Invoke();
            for (long position = imageOffset; ;)
            {
                int n = RandomAccess.Read(handle, buffer, position);
                if (n == 0)
                    break;
                sink(buffer, n);
                position += n;
            }
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(buffer);
        }
    }
}
