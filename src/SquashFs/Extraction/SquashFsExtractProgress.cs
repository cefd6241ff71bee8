namespace Xar.SquashFs;

/// <summary>How far an extraction is: entries created and file bytes written so far.</summary>
public readonly record struct SquashFsExtractProgress(long Entries, long Bytes);
