using System.Security.Cryptography;
using System.Text;

namespace Xar.Tests;

/// <summary>What a manifest records for each path; the comparer's options choose it.</summary>
internal sealed record ManifestSettings
{
    public bool Owner { get; init; } = true;
    public bool Times { get; init; } = true;
    public bool Xattrs { get; init; } = true;
    public bool Root { get; init; } = true;
    public bool WriteBits { get; init; } = true;
    public bool Inodes { get; init; }
    public bool Sparse { get; init; }

    /// <summary>One side cannot show hard links as shared inodes: record nlink of non-directories instead of link groups.</summary>
    public bool LinkCountsOnly { get; init; }
}

/// <summary>Known misreadings of a reader, undone while scanning its view (and counted in the report).</summary>
[Flags]
public enum ReaderQuirks
{
    None = 0,

    /// <summary>squashfuse before 0.2.0 lists trusted.* xattrs as security.* and the other way round (vasi/squashfuse#83).</summary>
    SecurityTrustedSwapped = 1,

    /// <summary>squashfuse before 0.2.0 answers ENODATA when asked for an xattr whose value is empty.</summary>
    EmptyXattrUnreadable = 2,

    /// <summary>High-level squashfuse gives every path its own inode number, so hard links show only as nlink.</summary>
    InodePerPath = 4,
}

/// <summary>One path's recorded attributes, by field name; two entries are equal when every field is.</summary>
internal sealed class ManifestEntry
{
    private static readonly string[] Order =
        ["error", "type", "mode", "uid", "gid", "mtime", "size", "sha256", "bytes-read", "blocks", "target", "rdev", "ino", "nlink", "link-group"];

    /// <summary>Fields in report order: the fixed ones first, then "xattr NAME" in name order.</summary>
    public static readonly IComparer<string> FieldOrder = Comparer<string>.Create(static (a, b) =>
    {
        int ia = Array.IndexOf(Order, a), ib = Array.IndexOf(Order, b);
        if (ia < 0)
            ia = Order.Length;
        if (ib < 0)
            ib = Order.Length;
        return ia != ib ? ia - ib : string.CompareOrdinal(a, b);
    });

    public SortedDictionary<string, string> Fields { get; } = new(FieldOrder);

    public string Type => Fields.GetValueOrDefault("type", "?");

    public string this[string field]
    {
        set => Fields[field] = value;
    }
}

/// <summary>
/// Every path under a directory with what the comparer checks of it. The walk goes by directory
/// descriptors only (openat, statx, readlinkat, getdents64; xattrs through /proc/self/fd/N/NAME),
/// so names of any bytes and paths beyond PATH_MAX are read like any other.
/// </summary>
internal sealed unsafe class TreeManifest
{
    private readonly ManifestSettings _settings;
    private readonly ReaderQuirks _quirks;
    private readonly byte[] _buffer = new byte[1 << 20];
    private readonly Dictionary<(uint, uint, ulong), List<string>> _inodes = [];

    private TreeManifest(ManifestSettings settings, ReaderQuirks quirks)
    {
        _settings = settings;
        _quirks = quirks;
    }

    /// <summary>Relative path (raw bytes as Latin-1, "" for the top) to its entry.</summary>
    public Dictionary<string, ManifestEntry> Entries { get; } = new(StringComparer.Ordinal);

    /// <summary>Paths that could not be read completely: an unreadable path cannot be called equal.</summary>
    public List<string> Problems { get; } = [];

    /// <summary>How often each reader quirk was undone.</summary>
    public SortedDictionary<string, int> QuirkNotes { get; } = new(StringComparer.Ordinal);

    public int FileCount { get; private set; }

    public long FileBytes { get; private set; }

    public static TreeManifest Scan(string root, ManifestSettings settings, ReaderQuirks quirks)
    {
        var manifest = new TreeManifest(settings, quirks);
        int fd;
        fixed (byte* p = TreeNative.CString(Encoding.UTF8.GetBytes(root)))
            fd = TreeNative.Open(p, TreeNative.ORdOnly | TreeNative.ODirectory | TreeNative.OCloExec, 0);
        if (fd < 0)
            throw new IOException($"{root}: cannot open the directory: {TreeNative.ErrorText(TreeNative.LastError)}");
        try
        {
            // The top is "." inside itself: every call below then has the same (directory, name) shape.
            if (manifest.Record(fd, ".", "") is { } top && top.Type == "dir")
                manifest.Walk(fd, "");
        }
        finally
        {
            TreeNative.Close(fd);
        }
        manifest.AddLinkGroups();
        return manifest;
    }

    /// <summary>
    /// Records everything below the open directory <paramref name="topFd"/> (not closed here), depth first in byte
    /// order. A stack of open directories, not recursion: a tree as deep as the kernel allows does not end the
    /// test process with a stack overflow.
    /// </summary>
    private void Walk(int topFd, string topPath)
    {
        var open = new List<OpenDirectory> { new(topFd, topPath, ReadNames(topFd, topPath)) };
        try
        {
            while (open.Count > 0)
            {
                var directory = open[^1];
                if (directory.Next == directory.Names.Count)
                {
                    open.RemoveAt(open.Count - 1);
                    if (open.Count > 0)
                        TreeNative.Close(directory.Fd);
                    continue;
                }
                string name = directory.Names[directory.Next++];
                string path = RawPath.Join(directory.Path, name);
                if (Record(directory.Fd, name, path) is not { } entry || entry.Type != "dir")
                    continue;
                int fd;
                fixed (byte* n = TreeNative.CString(RawPath.ToBytes(name)))
                    fd = TreeNative.OpenAt(directory.Fd, n, TreeNative.ORdOnly | TreeNative.ODirectory | TreeNative.ONoFollow | TreeNative.OCloExec, 0);
                if (fd < 0)
                {
                    Fail(entry, path, "open directory", TreeNative.LastError);
                    continue;
                }
                var child = new OpenDirectory(fd, path, []);
                open.Add(child); // before reading it, so it is closed whatever happens
                child.Names.AddRange(ReadNames(fd, path));
            }
        }
        finally
        {
            for (int i = 1; i < open.Count; i++)
                TreeNative.Close(open[i].Fd);
        }
    }

    /// <summary>A directory being walked: its descriptor, its path, its names and the next one to record.</summary>
    private sealed class OpenDirectory(int fd, string path, List<string> names)
    {
        public int Fd { get; } = fd;
        public string Path { get; } = path;
        public List<string> Names { get; } = names;
        public int Next { get; set; }
    }

    /// <summary>The names in a directory (not . and ..), in byte order.</summary>
    private List<string> ReadNames(int fd, string dirPath)
    {
        var names = new List<string>();
        fixed (byte* buffer = _buffer)
        {
            while (true)
            {
                nint n = TreeNative.GetDents64(fd, buffer, _buffer.Length);
                if (n < 0 && TreeNative.LastError == TreeNative.EINTR)
                    continue;
                if (n < 0)
                {
                    Fail(Entries[dirPath], dirPath, "read directory", TreeNative.LastError);
                    break;
                }
                if (n == 0)
                    break;
                for (nint at = 0; at < n;)
                {
                    ushort length = *(ushort*)(buffer + at + TreeNative.DirentReclenOffset);
                    var name = new ReadOnlySpan<byte>(buffer + at + TreeNative.DirentNameOffset, length - TreeNative.DirentNameOffset);
                    name = name[..name.IndexOf((byte)0)];
                    if (!name.SequenceEqual("."u8) && !name.SequenceEqual(".."u8))
                        names.Add(RawPath.FromBytes(name));
                    at += length;
                }
            }
        }
        names.Sort(StringComparer.Ordinal);
        return names;
    }

    private ManifestEntry? Record(int dirFd, string name, string path)
    {
        var entry = new ManifestEntry();
        Entries[path] = entry;
        byte[] cname = TreeNative.CString(RawPath.ToBytes(name));
        TreeNative.Statx st;
        int rc;
        fixed (byte* n = cname)
            rc = TreeNative.StatxAt(dirFd, n, TreeNative.AtSymlinkNoFollow | TreeNative.AtNoAutomount, TreeNative.StatxBasicStats, &st);
        if (rc != 0)
        {
            Fail(entry, path, "stat", TreeNative.LastError);
            return null;
        }
        int format = st.Mode & TreeNative.SIfMt;
        entry["type"] = format switch
        {
            TreeNative.SIfDir => "dir",
            TreeNative.SIfReg => "file",
            TreeNative.SIfLnk => "symlink",
            TreeNative.SIfIfo => "fifo",
            TreeNative.SIfSock => "socket",
            TreeNative.SIfChr => "chardev",
            TreeNative.SIfBlk => "blockdev",
            _ => $"unknown-{format:x}",
        };
        bool own = path.Length > 0 || _settings.Root;
        if (own)
        {
            entry["mode"] = Convert.ToString(st.Mode & (_settings.WriteBits ? 0xFFF : 0xFFF & ~0x92), 8).PadLeft(4, '0');
            if (_settings.Owner)
            {
                entry["uid"] = st.Uid.ToString();
                entry["gid"] = st.Gid.ToString();
            }
            if (_settings.Times)
                entry["mtime"] = st.MtimeSeconds.ToString();
            if (_settings.Inodes)
            {
                entry["ino"] = st.Ino.ToString();
                entry["nlink"] = st.Nlink.ToString();
            }
        }
        switch (format)
        {
            case TreeNative.SIfReg:
                entry["size"] = st.Size.ToString();
                if (_settings.Sparse)
                    entry["blocks"] = st.Blocks.ToString();
                HashContent(dirFd, cname, path, entry, st.Size);
                break;
            case TreeNative.SIfLnk:
                ReadTarget(dirFd, cname, path, entry);
                break;
            case TreeNative.SIfChr or TreeNative.SIfBlk:
                entry["rdev"] = $"{st.RdevMajor},{st.RdevMinor}";
                break;
        }
        if (format != TreeNative.SIfDir)
        {
            if (_settings.LinkCountsOnly)
                entry["nlink"] = st.Nlink.ToString();
            else
                AddInode((st.DevMajor, st.DevMinor, st.Ino), path);
        }
        if (own && _settings.Xattrs)
            ReadXattrs(dirFd, cname, path, entry);
        return entry;
    }

    private void AddInode((uint, uint, ulong) inode, string path)
    {
        if (!_inodes.TryGetValue(inode, out var paths))
            _inodes[inode] = paths = [];
        paths.Add(path);
    }

    private void HashContent(int dirFd, byte[] cname, string path, ManifestEntry entry, ulong size)
    {
        int fd;
        fixed (byte* n = cname)
            fd = TreeNative.OpenAt(dirFd, n, TreeNative.ORdOnly | TreeNative.ONoFollow | TreeNative.OCloExec | TreeNative.ONoCtty, 0);
        if (fd < 0)
        {
            Fail(entry, path, "open", TreeNative.LastError);
            return;
        }
        try
        {
            using var sha = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
            long total = 0;
            fixed (byte* buffer = _buffer)
            {
                while (true)
                {
                    nint n = TreeNative.Read(fd, buffer, _buffer.Length);
                    if (n < 0 && TreeNative.LastError == TreeNative.EINTR)
                        continue;
                    if (n < 0)
                    {
                        Fail(entry, path, "read", TreeNative.LastError);
                        return;
                    }
                    if (n == 0)
                        break;
                    sha.AppendData(_buffer, 0, (int)n);
                    total += n;
                }
            }
            entry["sha256"] = Convert.ToHexStringLower(sha.GetHashAndReset());
            // A reader that reports one size and delivers another is wrong even when both sides agree on the size.
            if ((ulong)total != size)
                entry["bytes-read"] = total.ToString();
            FileCount++;
            FileBytes += total;
        }
        finally
        {
            TreeNative.Close(fd);
        }
    }

    private void ReadTarget(int dirFd, byte[] cname, string path, ManifestEntry entry)
    {
        for (int size = 4096; ; size *= 2)
        {
            var target = new byte[size];
            nint n;
            fixed (byte* c = cname)
            fixed (byte* t = target)
                n = TreeNative.ReadLinkAt(dirFd, c, t, size);
            if (n < 0)
            {
                Fail(entry, path, "readlink", TreeNative.LastError);
                return;
            }
            if (n < size)
            {
                entry["target"] = RawPath.ShowBytes(target.AsSpan(0, (int)n));
                return;
            }
        }
    }

    /// <summary>/proc/self/fd/DIRFD/NAME: the l*xattr calls on it reach NAME itself, never what a symlink points to.</summary>
    private static byte[] ProcPath(int dirFd, byte[] cname) => [.. Encoding.ASCII.GetBytes($"/proc/self/fd/{dirFd}/"), .. cname];

    private void ReadXattrs(int dirFd, byte[] cname, string path, ManifestEntry entry)
    {
        byte[] proc = ProcPath(dirFd, cname);
        byte[]? list = Query(proc, null, entry, path, "listxattr");
        if (list is null)
            return;
        // The list is NAME\0NAME\0...
        for (int start = 0, end; start < list.Length; start = end + 1)
        {
            end = Array.IndexOf(list, (byte)0, start);
            if (end < 0)
                end = list.Length;
            if (end == start)
                continue;
            string name = Encoding.Latin1.GetString(list, start, end - start);
            byte[]? value = Query(proc, TreeNative.CString(list.AsSpan(start, end - start)), entry, path, "getxattr " + name);
            if (value is null)
                continue;
            entry["xattr " + RawPath.ShowBytes(RawPath.ToBytes(UndoPrefixSwap(name)))] = RawPath.ShowValue(value);
        }
    }

    private string UndoPrefixSwap(string name)
    {
        if (!_quirks.HasFlag(ReaderQuirks.SecurityTrustedSwapped))
            return name;
        if (name.StartsWith("security.", StringComparison.Ordinal))
        {
            Note("security.* read back as trusted.*");
            return "trusted." + name["security.".Length..];
        }
        if (name.StartsWith("trusted.", StringComparison.Ordinal))
        {
            Note("trusted.* read back as security.*");
            return "security." + name["trusted.".Length..];
        }
        return name;
    }

    /// <summary>The xattr name list (<paramref name="name"/> null) or one value; null when it cannot be read (recorded as a problem).</summary>
    private byte[]? Query(byte[] proc, byte[]? name, ManifestEntry entry, string path, string what)
    {
        fixed (byte* p = proc)
        fixed (byte* n = name)
        {
            while (true)
            {
                nint size = name is null ? TreeNative.LListXattr(p, null, 0) : TreeNative.LGetXattr(p, n, null, 0);
                if (size >= 0)
                {
                    var data = new byte[size];
                    fixed (byte* d = data)
                    {
                        nint got = name is null ? TreeNative.LListXattr(p, d, size) : TreeNative.LGetXattr(p, n, d, size);
                        if (got >= 0)
                            return data.AsSpan(0, (int)got).ToArray();
                    }
                }
                int errno = TreeNative.LastError;
                if (errno == TreeNative.ERANGE)
                    continue; // changed between the two calls
                if (name is null && errno == TreeNative.ENOTSUP)
                    return [];
                if (name is not null && errno == TreeNative.ENODATA && _quirks.HasFlag(ReaderQuirks.EmptyXattrUnreadable))
                {
                    Note("listed xattr with unreadable (empty) value read as \"\"");
                    return [];
                }
                Fail(entry, path, what, errno);
                return null;
            }
        }
    }

    private void Note(string what) => QuirkNotes[what] = QuirkNotes.GetValueOrDefault(what) + 1;

    private void Fail(ManifestEntry entry, string path, string what, int errno)
    {
        string message = $"{what}: {TreeNative.ErrorText(errno)}";
        entry.Fields["error"] = entry.Fields.TryGetValue("error", out var earlier) ? earlier + "; " + message : message;
        Problems.Add($"{RawPath.Show(path)}: {message}");
    }

    /// <summary>Hard links as the partition of paths into groups: each member names the group's first path and its size.</summary>
    private void AddLinkGroups()
    {
        foreach (var paths in _inodes.Values)
        {
            if (paths.Count < 2)
                continue;
            string leader = paths.Min(RawPath.TreeOrder)!;
            foreach (string p in paths)
                Entries[p]["link-group"] = $"{RawPath.Show(leader)} ({paths.Count} paths)";
        }
    }
}
