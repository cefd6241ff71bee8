namespace Xar.SquashFs.Writing;

/// <summary>Where a directory's listing is and how long; its index entries for large listings.</summary>
internal sealed record DirectoryListing(uint BlockStart, ushort BlockOffset, uint Size, List<DirectoryIndexEntry> Index);

internal readonly record struct DirectoryIndexEntry(uint ListingOffset, uint BlockStart, byte[] Name);
