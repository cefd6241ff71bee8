namespace Xar.SquashFs;

/// <summary>How <see cref="SquashFsFile.ExtractToDirectory(SquashFsImage, string, SquashFsExtractOptions?)"/> works.</summary>
public sealed class SquashFsExtractOptions
{
    /// <summary>
    /// Paths inside the image to extract (each with everything below it, and the directories
    /// above it); null or empty = the whole image. Symlinks on these paths are not followed.
    /// </summary>
    public IReadOnlyList<string>? Paths { get; init; }

    /// <summary>Restore uid/gid (only possible when running as root; otherwise files belong to the caller).</summary>
    public bool RestoreOwners { get; init; } = true;

    /// <summary>Restore extended attributes (trusted.* and security.* need root).</summary>
    public bool RestoreXattrs { get; init; } = true;

    /// <summary>Threads decompressing and writing file data; 0 = one per processor.</summary>
    public int MaxDegreeOfParallelism { get; init; }

    /// <summary>
    /// Called after each entry is created, from the thread that walks the tree (not the caller's),
    /// and once at the end. Bytes count file data written so far by all threads.
    /// </summary>
    public Action<SquashFsExtractProgress>? Progress { get; init; }

    /// <summary>
    /// Told about what could not be restored but does not stop the extraction (device nodes or
    /// owners without root, xattrs the file system refuses). Null = ignore.
    /// </summary>
    public Action<string>? Warning { get; init; }

    /// <summary>
    /// Stops the extraction (between entries, and between chunks of a file's data): it then throws
    /// <see cref="OperationCanceledException"/> and, as for any failure, leaves nothing behind.
    /// </summary>
    public CancellationToken CancellationToken { get; init; }
}
