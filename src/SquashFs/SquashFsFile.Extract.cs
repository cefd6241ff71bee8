using Xar.SquashFs.Extraction;

namespace Xar.SquashFs;

public static partial class SquashFsFile
{
    /// <summary>
    /// Extracts the SquashFS image at the start of <paramref name="sourceFile"/> into
    /// <paramref name="destinationDirectory"/>, which must not exist yet. The tree is written into a
    /// temporary sibling directory and renamed into place, so the destination is complete or absent.
    /// </summary>
    /// <exception cref="Format.InvalidArchiveException">Not an image, or a corrupt or hostile one (nothing is left behind).</exception>
    /// <exception cref="IOException">The destination exists, or writing failed.</exception>
    public static void ExtractToDirectory(string sourceFile, string destinationDirectory, SquashFsExtractOptions? options = null)
    {
        ArgumentNullException.ThrowIfNull(sourceFile);
        using var image = SquashFsImage.Open(sourceFile);
        ExtractToDirectory(image, destinationDirectory, options);
    }

    /// <summary>Extracts an open image into <paramref name="destinationDirectory"/> (see the other overload).</summary>
    public static void ExtractToDirectory(SquashFsImage image, string destinationDirectory, SquashFsExtractOptions? options = null)
    {
        ArgumentNullException.ThrowIfNull(image);
        ArgumentNullException.ThrowIfNull(destinationDirectory);
        new SquashFsExtractor(image, options).Extract(destinationDirectory);
    }
}
