using Xar.Posix;
using Xar.SquashFs.Writing;

namespace Xar.SquashFs;

/// <summary>Creates and extracts SquashFS images (and XAR files, which are images behind a header).</summary>
public static partial class SquashFsFile
{
    /// <summary>
    /// Packs <paramref name="sourceDirectory"/> into a SquashFS 4.0 image at <paramref name="destinationFile"/>.
    /// The image is written to a temporary file beside the destination and renamed into place, so a
    /// failed or cancelled call leaves no partial file (and an existing destination untouched).
    /// </summary>
    /// <exception cref="SourceTreeException">A file of the tree is unreadable, changed while read, or cannot be stored.</exception>
    /// <exception cref="ArgumentException">An option is out of range.</exception>
    public static void CreateFromDirectory(string sourceDirectory, string destinationFile, SquashFsWriterOptions? options = null,
        CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(sourceDirectory);
        ArgumentNullException.ThrowIfNull(destinationFile);
        var imageOptions = (options ?? new SquashFsWriterOptions()) with { ReplacedFile = NativePath.FullPath(destinationFile) };
        AtomicFile.Write(destinationFile, unixMode: null, stream =>
            ImageWriter.Write(sourceDirectory, stream, imageOptions, cancellationToken));
    }

    /// <summary>
    /// Packs <paramref name="sourceDirectory"/> into <paramref name="destination"/>, starting at its
    /// current position (offsets inside the image are relative to that). A stream that cannot seek
    /// gets the image through a temporary file.
    /// </summary>
    public static void CreateFromDirectory(string sourceDirectory, Stream destination, SquashFsWriterOptions? options = null,
        bool leaveOpen = false, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(sourceDirectory);
        ArgumentNullException.ThrowIfNull(destination);
        try
        {
            options ??= new SquashFsWriterOptions();
            if (destination.CanSeek)
            {
                ImageWriter.Write(sourceDirectory, destination, options, cancellationToken);
                return;
            }
            string temp = Path.GetTempFileName();
            try
            {
                using (var file = new FileStream(temp, FileMode.Create, FileAccess.ReadWrite, FileShare.None, 1 << 20))
                {
                    ImageWriter.Write(sourceDirectory, file, options, cancellationToken);
                    file.Position = 0;
                    file.CopyTo(destination);
                }
                destination.Flush();
            }
            finally
            {
                File.Delete(temp);
            }
        }
        finally
        {
            if (!leaveOpen)
                destination.Dispose();
        }
    }
}
