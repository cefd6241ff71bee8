using System.CommandLine;
using Xar.Runtime;

namespace Xar.Packer.Cli;

/// <summary>The FILE argument and --offset option every reading command shares.</summary>
public static class ImageInput
{
    public static Argument<string> FileArgument() => new("FILE") { Description = "a XAR file or a SquashFS image" };

    public static Option<long?> OffsetOption() => new("--offset")
    {
        Description = "byte offset of the SquashFS image in FILE (default: from the XAR header, or 0)",
    };

    /// <summary>Opens FILE as a XAR or a bare image, or the image at <paramref name="offset"/>.</summary>
    public static XarArchive Open(string file, long? offset)
    {
        if (Directory.Exists(file))
            throw new UsageException("is a directory, not an image", file);
        if (offset is < 0)
            throw new UsageException("--offset must not be negative", file);
        return XarArchive.Open(file, offset);
    }
}
