using System.Diagnostics.CodeAnalysis;

namespace Xar.SquashFs.Writing;

/// <summary>
/// File dedup: where the data of each content went, keyed by (size, SHA-256 of the content), so a
/// file whose content equals an earlier file's shares its blocks and fragment slot. Only a size that
/// another file of the tree has can be a duplicate, so only files of such sizes are hashed first.
/// Where tails go into fragments, also by (full-block count, SHA-256 of the full blocks): a file whose full
/// blocks equal an earlier file's but whose tail differs (two versions of a log, say) shares that block run
/// and gets a fragment of its own, as mksquashfs does. Only a full-block count that another file has is hashed.
/// </summary>
internal sealed class ContentIndex
{
    private readonly HashSet<ulong> _sharedSizes = [];
    private readonly HashSet<ulong> _sharedRunLengths = [];
    private readonly Dictionary<(ulong, string), FileData> _contents = [];
    private readonly Dictionary<(ulong, string), FileData> _runs = [];
    private readonly int _blockSize;

    /// <param name="runsOfFullBlocks">Whether files that differ only in their tails can share their full blocks (tails in fragments).</param>
    public ContentIndex(IReadOnlyList<SourceInode> files, int blockSize, bool runsOfFullBlocks)
    {
        _blockSize = blockSize;
        var seen = new HashSet<ulong>();
        var seenRuns = new HashSet<ulong>();
        foreach (var f in files)
        {
            if (f.Size > 0 && !seen.Add(f.Size))
                _sharedSizes.Add(f.Size);
            ulong full = FullBlocks(f.Size);
            if (runsOfFullBlocks && full > 0 && !seenRuns.Add(full))
                _sharedRunLengths.Add(full);
        }
    }

    /// <summary>The number of whole blocks at the start of a file of <paramref name="size"/> bytes.</summary>
    public ulong FullBlocks(ulong size) => size / (ulong)_blockSize;

    /// <summary>Whether a file of <paramref name="size"/> bytes can equal another file of the tree.</summary>
    public bool MayHaveTwin(ulong size) => _sharedSizes.Contains(size);

    /// <summary>Whether a file of <paramref name="size"/> bytes can share its full blocks with another file of the tree.</summary>
    public bool MayShareBlocks(ulong size) => _sharedRunLengths.Contains(FullBlocks(size));

    public bool TryGet(ulong size, string hash, [MaybeNullWhen(false)] out FileData data) => _contents.TryGetValue((size, hash), out data);

    public void Add(ulong size, string hash, FileData data) => _contents[(size, hash)] = data;

    /// <summary>The file whose full blocks (as many as a file of <paramref name="size"/> bytes has) hash to <paramref name="hash"/>.</summary>
    public bool TryGetBlocks(ulong size, string hash, [MaybeNullWhen(false)] out FileData owner) => _runs.TryGetValue((FullBlocks(size), hash), out owner);

    /// <summary>Records <paramref name="owner"/>'s full blocks (its own run, not a shared one) under their hash.</summary>
    public void AddBlocks(ulong size, string hash, FileData owner) => _runs.TryAdd((FullBlocks(size), hash), owner);
}
