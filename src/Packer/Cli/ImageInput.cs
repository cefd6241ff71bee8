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
        // By the bytes given: a name that is not UTF-8 still names its file.
        byte[] path = [.. RawArguments.Of(file), 0];
        int fd;
        unsafe
        {
            fixed (byte* p = path)
                fd = Xar.Posix.LibC.Open(p, Xar.Posix.LibC.O_RDONLY | Xar.Posix.LibC.O_CLOEXEC, 0);
        }
        if (fd < 0)
        {
            int errno = Xar.Posix.LibC.LastError;
            if (errno is Xar.Posix.LibC.ENOENT or Xar.Posix.LibC.ENOTDIR)
                throw new FileNotFoundException($"Could not find file '{file}'.", file);
            throw new IOException($"cannot open: {Xar.Posix.LibC.Describe(errno)}");
        }
        return XarArchive.Open(new Microsoft.Win32.SafeHandles.SafeFileHandle(fd, ownsHandle: true), offset);
    }
}
