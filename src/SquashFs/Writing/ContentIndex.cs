using System.Diagnostics.CodeAnalysis;

namespace Xar.SquashFs.Writing;

/// <summary>
/// File dedup: where the data of each content went, keyed by (size, SHA-256 of the content), so a
/// file whose content equals an earlier file's shares its blocks and fragment slot. Only a size that
/// another file of the tree has can be a duplicate, so only files of such sizes are hashed first.
/// </summary>
internal sealed class ContentIndex
{
    private readonly HashSet<ulong> _sharedSizes = [];
    private readonly Dictionary<(ulong, string), FileData> _contents = [];

    public ContentIndex(IReadOnlyList<SourceInode> files)
    {
        var seen = new HashSet<ulong>();
        foreach (var f in files)
            if (f.Size > 0 && !seen.Add(f.Size))
                _sharedSizes.Add(f.Size);
    }

    /// <summary>Whether a file of <paramref name="size"/> bytes can equal another file of the tree.</summary>
    public bool MayHaveTwin(ulong size) => _sharedSizes.Contains(size);

    public bool TryGet(ulong size, string hash, [MaybeNullWhen(false)] out FileData data) => _contents.TryGetValue((size, hash), out data);

    public void Add(ulong size, string hash, FileData data) => _contents[(size, hash)] = data;
}
