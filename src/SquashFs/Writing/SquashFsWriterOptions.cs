using System.Diagnostics.CodeAnalysis;
using System.Globalization;
using System.Text;
using Xar.Posix;
using Xar.SquashFs.Compression;
using Xar.SquashFs.Format;
using Xar.SquashFs.Writing;

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
    /// The image's own time in the superblock. Null: <see cref="GetDefaultImageTime"/> (SOURCE_DATE_EPOCH
    /// when it is set in the environment, else the current time).
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
    /// Files the image gets in its root directory beside (not instead of) the source tree's, owned by
    /// <see cref="Uid"/>/<see cref="Gid"/> (default root) with the root's time (e.g. a XAR's bootstrap
    /// script). A name the source directory already holds is an error.
    /// </summary>
    public IReadOnlyList<SquashFsExtraFile>? ExtraRootFiles { get; init; }

    /// <summary>
    /// The file the image will replace, for a caller that writes it to a temporary file first (as
    /// <see cref="Posix.AtomicFile"/> does): left out of the image when it lies inside the source tree.
    /// (A <see cref="FileStream"/> written to is left out by itself.)
    /// </summary>
    public string? ReplacedFile { get; init; }

    /// <summary>Throws <see cref="ArgumentException"/> when an option is out of range, or <see cref="CompressorUnavailableException"/> when the compressor cannot be loaded.</summary>
    public void Validate()
    {
        int b = BlockSize;
        if (b < SquashFsConstants.MinBlockSize || b > SquashFsConstants.MaxBlockSize || (b & (b - 1)) != 0)
            throw new ArgumentException($"block size {b} is not a power of two from 4K to 1M");
        if (Jobs < 1)
            throw new ArgumentException($"jobs must be at least 1, not {Jobs}");
        if (!Compression.Uncompressed)
        {
            CompressorFactory.Validate(Compression, b);
            CompressorFactory.EnsureWritable(Compression.Algorithm);
        }
        if (SortPriorities is not null)
            foreach (var (path, priority) in SortPriorities)
                if (priority < short.MinValue || priority > short.MaxValue)
                    throw new ArgumentException($"sort priority {priority} of {path} is outside -32768..32767");
        if (ExtraRootFiles is not null)
            foreach (var extra in ExtraRootFiles)
            {
                // Not one name (a '/', "..", too long) would make an image that readers refuse.
                byte[] name = Encoding.UTF8.GetBytes(extra.Name);
                if (!EntryName.IsSafe(name) || name.Length > SquashFsConstants.MaxNameLength)
                    throw new ArgumentException($"extra root file name \"{extra.Name}\" is not a single name of 1 to {SquashFsConstants.MaxNameLength} bytes");
            }
    }

    /// <summary>
    /// The image time when <see cref="ImageTime"/> is null: SOURCE_DATE_EPOCH when it is set
    /// (reproducible builds), else the current time.
    /// </summary>
    /// <exception cref="ArgumentException">SOURCE_DATE_EPOCH is not a number from 0 to 4294967295.</exception>
    public static uint GetDefaultImageTime()
    {
        string? epoch = Environment.GetEnvironmentVariable("SOURCE_DATE_EPOCH");
        if (!string.IsNullOrEmpty(epoch))
        {
            if (!ulong.TryParse(epoch, NumberStyles.None, CultureInfo.InvariantCulture, out ulong value) || value > uint.MaxValue)
                throw new ArgumentException($"SOURCE_DATE_EPOCH=\"{epoch}\" is not a number of seconds from 0 to 4294967295");
            return (uint)value;
        }
        return (uint)Math.Clamp(DateTimeOffset.UtcNow.ToUnixTimeSeconds(), 0, uint.MaxValue);
    }

    /// <summary>
    /// Whether <see cref="Excludes"/> leave the entry at <paramref name="relativePath"/> ('/'-separated,
    /// from the source directory) out of the image: a pattern matches it or a directory above it.
    /// <paramref name="excludedPath"/> is then the outermost path a pattern matches.
    /// </summary>
    /// <exception cref="ArgumentException">An exclude pattern is empty.</exception>
    public bool IsExcluded(string relativePath, [NotNullWhen(true)] out string? excludedPath)
    {
        ArgumentNullException.ThrowIfNull(relativePath);
        excludedPath = null;
        if (Excludes is null || Excludes.Count == 0)
            return false;
        var matcher = new ExcludeMatcher(Excludes);
        string prefix = "";
        foreach (string part in relativePath.Split('/', StringSplitOptions.RemoveEmptyEntries))
        {
            if (part == ".")
                continue;
            prefix = prefix.Length == 0 ? part : prefix + "/" + part;
            if (matcher.IsExcluded(LosslessUtf8.Encode(prefix), LosslessUtf8.Encode(part)))
            {
                excludedPath = prefix;
                return true;
            }
        }
        return false;
    }
}
