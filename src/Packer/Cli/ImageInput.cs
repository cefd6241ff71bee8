using System.CommandLine;
using Xar.Posix;
using Xar.Runtime;

namespace Xar.Packer.Cli;

/// <summary>The FILE argument and --offset option every reading command shares.</summary>
public static class ImageInput
{
    public static Argument<string> FileArgument() => new("FILE") { Description = "a XAR file or a SquashFS image" };

    public static Option<long?> OffsetOption() => new("--offset")
    {
        Description = "byte offset of the SquashFS image in FILE (default: from the XAR header, or 0)",
        // Said in words, not as System.CommandLine's "expected type 'System.Nullable`1[System.Int64]'".
        CustomParser = result =>
        {
            string text = result.Tokens.Count > 0 ? result.Tokens[0].Value : "";
            if (long.TryParse(text, System.Globalization.NumberStyles.None, System.Globalization.CultureInfo.InvariantCulture, out long value))
                return value;
            result.AddError($"--offset wants a byte offset, a whole number from 0, not '{text}'");
            return null;
        },
    };

    /// <summary>FILE for messages: the bytes given, <c>\xNN</c> for each that is not UTF-8.</summary>
    public static string Display(string file) => LosslessUtf8.Escape(RawArguments.Of(file));

    /// <summary>
    /// An argument naming something inside an image (PATH), as a lossless string (<see cref="LosslessUtf8"/>):
    /// a name that is not UTF-8 is found by its bytes.
    /// </summary>
    public static string PathArgument(string value) => LosslessUtf8.Decode(RawArguments.Of(value));

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
            // O_NONBLOCK: a FIFO must not block open(2) until a writer comes (it is refused below).
            fixed (byte* p = path)
                fd = Xar.Posix.LibC.Open(p, Xar.Posix.LibC.O_RDONLY | Xar.Posix.LibC.O_CLOEXEC | Xar.Posix.LibC.O_NONBLOCK, 0);
        }
        if (fd < 0)
        {
            int errno = Xar.Posix.LibC.LastError;
            if (errno is Xar.Posix.LibC.ENOENT or Xar.Posix.LibC.ENOTDIR)
                throw new FileNotFoundException($"Could not find file '{Display(file)}'.", Display(file));
            throw new IOException($"cannot open: {Xar.Posix.LibC.Describe(errno)}");
        }
        var handle = new Microsoft.Win32.SafeHandles.SafeFileHandle(fd, ownsHandle: true);
        // An image is read at offsets: a regular file or a block device. A FIFO, socket or character device
        // (/dev/zero, a pipe as /dev/stdin) holds none, and would hang or read forever.
        if (Xar.Posix.LibC.FStatx(fd, out var st) == 0 && (st.Mode & 0xF000) is not (0x8000 or 0x6000))
        {
            handle.Dispose();
            throw new UsageException("is not a regular file (nor a block device), so it holds no image", Display(file));
        }
        return XarArchive.Open(handle, offset);
    }
}
