using System.CommandLine;
using System.Security.Cryptography;
using Xar.Packer.Cli;
using Xar.Runtime;
using Xar.Runtime.Signing;
using Xar.SquashFs;

namespace Xar.Packer.Commands;

/// <summary>
/// `xar verify FILE`: decompresses every block and checks every structure; for a XAR whose UUID
/// is the image hash (as `xar pack` writes it), also checks that hash. With --key, the file's signature must be
/// good and made by that key (exit 2 otherwise); --export-statement writes what was signed and a .minisig for minisign.
/// </summary>
public static class VerifyCommand
{
    public static Command Create()
    {
        var file = ImageInput.FileArgument();
        var offset = ImageInput.OffsetOption();
        var quiet = new Option<bool>("--quiet", "-q") { Description = "print nothing when the file is sound (a failure is still its one line on stderr)" };
        var key = new Option<string?>("--key", "-k") { Description = "minisign public key: the XAR must be signed with it (xar sign), and nothing it covers changed" };
        var export = new Option<string?>("--export-statement") { Description = "write the signed statement to PATH and its signature to PATH.minisig, for: minisign -V -m PATH -p KEY.pub" };
        var command = new Command("verify", "Read and check every structure and block of a XAR or SquashFS image, and its signature with --key.") { file, offset, quiet, key, export };
        command.SetAction(parse =>
        {
            string input = parse.GetValue(file)!;
            return CliRunner.Run(ImageInput.Display(input), () =>
            {
                var publicKey = parse.GetValue(key) is { } keyPath ? KeyFile.ReadPublic(keyPath) : null;
                string? exportPath = parse.GetValue(export);
                using var archive = ImageInput.Open(input, parse.GetValue(offset));
                string? signed = null;
                if (publicKey is not null || exportPath is not null)
                    signed = CheckSignature(archive, publicKey, exportPath);
                var report = archive.Image.Verify();
                string uuid = CheckUuid(archive);
                if (signed is not null)
                    uuid += "; " + signed;
                if (!parse.GetValue(quiet))
                    StandardOutput.Writer.Write(
                        $"{input}: OK: {report.Inodes} inodes ({report.Directories} directories, {report.Files} files, {report.Symlinks} symlinks, {report.Others} other), " +
                        $"{report.FileBytes} file bytes in {report.DataBlocks} data blocks and {report.FragmentBlocks} fragment blocks, {report.MetadataBlocks} metadata blocks; {uuid}\n");
                return ExitCodes.Success;
            });
        });
        return command;
    }

    /// <summary>The signature's verdict (bad input unless good), after writing the statement when asked.</summary>
    private static string? CheckSignature(XarArchive archive, MinisignPublicKey? key, string? exportPath)
    {
        if (archive.Header is null)
            throw new UsageException("a bare SquashFS image carries no signature (xar sign signs XAR files)");
        var handle = archive.Handle;
        if (exportPath is not null)
            ExportStatement(handle, archive.ArchiveOffset, exportPath);
        if (key is null)
            return null;
        var verdict = XarSignatureCheck.Verify(handle, archive.ArchiveOffset, [key]);
        if (!verdict.IsGood)
            throw new UsageException(verdict.Message);
        return verdict.Message;
    }

    /// <summary>The signed statement and its .minisig, so minisign can check xar's signature on its own.</summary>
    private static void ExportStatement(Microsoft.Win32.SafeHandles.SafeFileHandle handle, long archiveOffset, string path)
    {
        var (prefix, imageOffset, value) = SignedStatement.ReadHeader(handle, archiveOffset);
        if (value is null)
            throw new UsageException("not signed (the header has no XAR_SIGNATURE): nothing to export");
        MinisignSignature signature;
        try
        {
            signature = MinisignSignature.ParseHeaderValue(value);
        }
        catch (SignatureFormatException e)
        {
            throw new UsageException(e.Message);
        }
        Xar.Posix.AtomicFile.Write(path, null, output => SignedStatement.Write(output, handle, archiveOffset, prefix, imageOffset));
        Xar.Posix.AtomicFile.Write(path + ".minisig", null, output => output.Write(System.Text.Encoding.UTF8.GetBytes(signature.ToMinisig("signature from xar sign"))));
    }

    /// <summary>
    /// The UUID of a XAR made by `xar pack` is the first 16 hex digits of the SHA-256 of the image
    /// (the bytes from OFFSET to the end). Other tools pick UUIDs freely, so a UUID that is not
    /// the hash is reported, not rejected; one that matches proves the image intact.
    /// </summary>
    private static string CheckUuid(XarArchive archive)
    {
        if (archive.Header is not { } header)
            return "no XAR header";
        string hash = Convert.ToHexStringLower(archive.HashImage());
        if (string.Equals(header.Uuid, hash[..Math.Min(hash.Length, header.Uuid.Length)], StringComparison.OrdinalIgnoreCase) && header.Uuid.Length >= 16)
            return "UUID matches the image hash";
        return "UUID is not the image hash (not checked)";
    }
}
