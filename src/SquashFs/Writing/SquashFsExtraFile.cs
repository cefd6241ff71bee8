namespace Xar.SquashFs;

/// <summary>
/// A file given in memory that <see cref="SquashFsWriterOptions.ExtraRootFiles"/> adds to the image's
/// root directory: its name (one path component), its bytes, and its permission bits (incl.
/// setuid/setgid/sticky; the file type bits are ignored).
/// </summary>
public sealed record class SquashFsExtraFile(string Name, byte[] Content, UnixFileMode Mode);
