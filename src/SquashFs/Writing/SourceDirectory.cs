namespace Xar.SquashFs.Writing;

/// <summary>A directory's sorted entries.</summary>
internal sealed class SourceDirectory
{
    public List<SourceEntry> Entries { get; } = [];

    /// <summary>Where the listing went in the directory table (filled when it is written).</summary>
    public DirectoryListing? Listing { get; set; }
}
