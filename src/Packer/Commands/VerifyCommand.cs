using System.CommandLine;
using System.Security.Cryptography;
using Xar.Packer.Cli;
using Xar.Runtime;
using Xar.SquashFs;

namespace Xar.Packer.Commands;

/// <summary>
/// `xar verify FILE`: decompresses every block and checks every structure; for a XAR whose UUID
/// is the image hash (as `xar pack` writes it), also checks that hash.
/// </summary>
public static class VerifyCommand
{
    public static Command Create()
    {
        var file = ImageInput.FileArgument();
        var offset = ImageInput.OffsetOption();
        var quiet = new Option<bool>("--quiet", "-q") { Description = "print nothing; only the exit status tells" };
        var command = new Command("verify", "Read and check every structure and block of a XAR or SquashFS image.") { file, offset, quiet };
        command.SetAction(parse =>
        {
            string input = parse.GetValue(file)!;
            return CliRunner.Run(input, () =>
            {
                using var archive = ImageInput.Open(input, parse.GetValue(offset));
                var report = archive.Image.Verify();
                string uuid = CheckUuid(archive);
                if (!parse.GetValue(quiet))
                    StandardOutput.Writer.Write(
                        $"{input}: OK: {report.Inodes} inodes ({report.Directories} directories, {report.Files} files, {report.Symlinks} symlinks, {report.Others} other), " +
                        $"{report.FileBytes} file bytes in {report.DataBlocks} data blocks and {report.FragmentBlocks} fragment blocks, {report.MetadataBlocks} metadata blocks; {uuid}\n");
                return ExitCodes.Success;
            });
        });
        return command;
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
