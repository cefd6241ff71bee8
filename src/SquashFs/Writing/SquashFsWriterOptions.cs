using Xar.SquashFs.Compression;
using Xar.SquashFs.Format;

namespace Xar.SquashFs;

/// <summary>How <see cref="SquashFsFile.CreateFromDirectory(string, string, SquashFsWriterOptions?, CancellationToken)"/> builds an image.</summary>
public sealed record class SquashFsWriterOptions
{
    /// <summary>Data block size: a power of two from 4 KiB to 1 MiB (default 128 KiB, as mksquashfs).</summary>
    public int BlockSize { get; init; } = SquashFsConstants.DefaultBlockSize;

    /// <summary>Compressor and its settings (default zstd at level 15).</summary>
    public CompressionOptions Compression { get; init; } = new();

    /// <summary>Store file tails as short last blocks instead of packing them into fragment blocks.</summary>
    public bool NoFragments { get; init; }

    /// <summary>Store every file's data even when an earlier file had the same content.</summary>
    public bool NoDeduplication { get; init; }

    /// <summary>Leave extended attributes out of the image.</summary>
    public bool NoXattrs { get; init; }

    /// <summary>Every entry owned by this uid (null: the source's owner).</summary>
    public uint? Uid { get; init; }

    /// <summary>Every entry owned by this gid (null: the source's group).</summary>
    public uint? Gid { get; init; }

    /// <summary>Every entry gets this modification time (seconds since the epoch, 0..2^32-1; null: the source's).</summary>
    public uint? FixedModificationTime { get; init; }

    /// <summary>
    /// The image's own time in the superblock. Null: SOURCE_DATE_EPOCH when it is set in the
    /// environment, else the current time.
    /// </summary>
    public uint? ImageTime { get; init; }

    /// <summary>Compression threads (default: every core).</summary>
    public int Jobs { get; init; } = Environment.ProcessorCount;

    /// <summary>
    /// mksquashfs sort priorities: path relative to the source directory ('/'-separated, no leading '/')
    /// → priority -32768..32767. Files with higher priority are stored first; a directory's priority
    /// applies to everything below it unless a deeper entry has its own. Default priority 0.
    /// </summary>
    public IReadOnlyDictionary<string, int>? SortPriorities { get; init; }

    /// <summary>
    /// Glob patterns of entries to leave out (with everything below them). A pattern without '/'
    /// matches an entry's name at any depth; one with '/' matches the path from the source directory.
    /// '*' and '?' stay inside one name, '**' spans directories, [...] is a byte class.
    /// </summary>
    public IReadOnlyList<string>? Excludes { get; init; }

    /// <summary>Called from the packing thread as work proceeds (often: throttle what you print).</summary>
    public Action<SquashFsWriteProgress>? Progress { get; init; }

    /// <summary>Told about entries left out and similar remarks that do not stop the work (e.g. xattrs of an unsupported namespace).</summary>
    public Action<string>? Warning { get; init; }

    /// <summary>
    /// Files the image gets in its root directory beside (not instead of) the source tree's: name → (content, mode).
    /// Used for the XAR bootstrap script.
    /// </summary>
    internal IReadOnlyList<ExtraFile>? ExtraRootFiles { get; init; }

    /// <summary>The destination file the image will replace: left out of the image if it lies in the tree.</summary>
    internal string? ReplacedFile { get; init; }

    internal sealed record ExtraFile(string Name, byte[] Content, uint Mode);
}
