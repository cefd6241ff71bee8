using System.Diagnostics.CodeAnalysis;

namespace Xar.SquashFs.Writing;

/// <summary>
/// File dedup: where the data of each content went, keyed by (size, SHA-256 of the content), so a
/// file whose content equals an earlier file's shares its blocks and fragment slot. Only a size that
/// another file of the tree has can be a duplicate, so only files of such sizes are hashed first.
/// Where tails go into fragments, also by (full-block count, SHA-256 of the full blocks): a file whose full
/// blocks equal an earlier file's but whose tail differs (two versions of a log, say) shares that block run
/// and gets a fragment of its own, as mksquashfs does. Hashing whole files for that would read most large files
/// twice (a .NET SDK has thousands with equal block counts), so a file is a candidate only when another file has
/// the same full-block count and the same first 4 KiB: one small read per file up front.
/// </summary>
internal sealed class ContentIndex
{
    private readonly HashSet<ulong> _sharedSizes = [];
    private const int HeadLength = 4096;
    private readonly HashSet<SourceInode> _runCandidates = new(ReferenceEqualityComparer.Instance);
    private readonly Dictionary<(ulong, string), FileData> _contents = [];
    private readonly Dictionary<(ulong, string), FileData> _runs = [];
    private readonly int _blockSize;

    /// <param name="runsOfFullBlocks">Whether files that differ only in their tails can share their full blocks (tails in fragments).</param>
    public ContentIndex(IReadOnlyList<SourceInode> files, int blockSize, bool runsOfFullBlocks)
    {
        _blockSize = blockSize;
        var seen = new HashSet<ulong>();
        var runLengths = new Dictionary<ulong, int>();
        foreach (var f in files)
        {
            if (f.Size > 0 && !seen.Add(f.Size))
                _sharedSizes.Add(f.Size);
            ulong full = FullBlocks(f.Size);
            if (runsOfFullBlocks && full > 0)
                runLengths[full] = runLengths.GetValueOrDefault(full) + 1;
        }
        if (!runsOfFullBlocks)
            return;
        var heads = new Dictionary<(ulong, string), List<SourceInode>>();
        foreach (var f in files)
        {
            ulong full = FullBlocks(f.Size);
            if (full > 0 && runLengths[full] > 1 && Head(f) is { } head)
            {
                if (!heads.TryGetValue((full, head), out var same))
                    heads[(full, head)] = same = [];
                same.Add(f);
            }
        }
        foreach (var same in heads.Values)
            if (same.Count > 1)
                _runCandidates.UnionWith(same);
    }

    /// <summary>The SHA-256 of a file's first 4 KiB; null when it cannot be read now (writing it will say why).</summary>
    private static string? Head(SourceInode file)
    {
        Span<byte> head = stackalloc byte[HeadLength];
        try
        {
            using var source = FileSource.Open(file);
            source.ReadExactly(head, 0);
        }
        catch (SourceTreeException)
        {
            return null;
        }
        return Convert.ToBase64String(System.Security.Cryptography.SHA256.HashData(head));
    }

    /// <summary>The number of whole blocks at the start of a file of <paramref name="size"/> bytes.</summary>
    public ulong FullBlocks(ulong size) => size / (ulong)_blockSize;

    /// <summary>Whether a file of <paramref name="size"/> bytes can equal another file of the tree.</summary>
    public bool MayHaveTwin(ulong size) => _sharedSizes.Contains(size);

    /// <summary>Whether <paramref name="file"/> can share its full blocks with another file of the tree.</summary>
    public bool MayShareBlocks(SourceInode file) => _runCandidates.Contains(file);

    public bool TryGet(ulong size, string hash, [MaybeNullWhen(false)] out FileData data) => _contents.TryGetValue((size, hash), out data);

    public void Add(ulong size, string hash, FileData data) => _contents[(size, hash)] = data;

    /// <summary>The file whose full blocks (as many as a file of <paramref name="size"/> bytes has) hash to <paramref name="hash"/>.</summary>
    public bool TryGetBlocks(ulong size, string hash, [MaybeNullWhen(false)] out FileData owner) => _runs.TryGetValue((FullBlocks(size), hash), out owner);

    /// <summary>Records <paramref name="owner"/>'s full blocks (its own run, not a shared one) under their hash.</summary>
    public void AddBlocks(ulong size, string hash, FileData owner) => _runs.TryAdd((FullBlocks(size), hash), owner);
}
