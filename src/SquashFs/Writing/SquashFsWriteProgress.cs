namespace Xar.SquashFs;

/// <summary>Where packing stands. Sizes in bytes.</summary>
public readonly record struct SquashFsWriteProgress(
    long FilesDone, long FilesTotal, long BytesRead, long BytesTotal, long BytesWritten);
