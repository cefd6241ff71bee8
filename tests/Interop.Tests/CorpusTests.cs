using Xar.Tests;

namespace Xar.Interop.Tests;

/// <summary>bench/corpus.sh: the edge tree holds every odd case it promises, the same on every run.</summary>
public class CorpusTests
{
    [SkippableFact]
    public void EdgeCorpusIsIdenticalToItself()
    {
        TestEnv.RequireTool("python3");
        string edge = Corpus.Get("edge");
        Assert.True(Directory.Exists(Path.Combine(edge, "files")));
        TestEnv.AssertTreesEqual(edge, edge);
    }

    [SkippableFact]
    public void EdgeCorpusIsTheSameOnEveryRun()
    {
        TestEnv.RequireTool("python3");
        TestEnv.RequireTool("setfattr");
        string edge = Corpus.Get("edge");
        using var tmp = new TempDir("corpus-again");
        TestEnv.Run(new RunOptions("bash", [TestEnv.CorpusScript, tmp.Path, "edge"]) { TimeoutMs = 900_000 }).EnsureSuccess("corpus.sh edge");
        TestEnv.AssertTreesEqual(edge, tmp["edge"]);
    }

    [SkippableFact]
    public void EdgeCorpusHoldsEveryOddCase()
    {
        TestEnv.RequireTool("python3");
        TestEnv.RequireTool("setfattr");
        string edge = Corpus.Get("edge");
        var tree = TreeManifest.Scan(edge, new ManifestSettings { Sparse = true }, ReaderQuirks.None);
        Assert.Empty(tree.Problems);
        var entries = tree.Entries;
        string Field(string path, string field) =>
            entries.TryGetValue(path, out var e) ? e.Fields.GetValueOrDefault(field, "-") : $"<no {path}>";
        IEnumerable<string> Names(string directory) =>
            entries.Keys.Where(k => k.StartsWith(directory + "/", StringComparison.Ordinal) && !k[(directory.Length + 1)..].Contains('/'))
                .Select(k => k[(directory.Length + 1)..]);

        Assert.Equal("dir", Field("empty-dir", "type"));
        Assert.Empty(Names("empty-dir"));
        Assert.Equal("0", Field("files/empty", "size"));
        foreach (int size in new[] { 4095, 4096, 4097, 131071, 131072, 131073, 1048576 })
            Assert.Equal(size.ToString(), Field($"files/size-{size}", "size"));
        Assert.Equal((50 << 20).ToString(), Field("files/random-50M", "size"));
        Assert.Equal("0", Field("files/zeros-50M", "blocks"));
        Assert.True(long.Parse(Field("files/holes", "blocks")) * 512 < long.Parse(Field("files/holes", "size")));
        Assert.Equal(Field("dedup/whole-1", "sha256"), Field("dedup/whole-4", "sha256"));
        Assert.Equal(Field("files/size-131073", "sha256"), Field("dedup/like-size-131073", "sha256"));
        Assert.Equal(5000, Names("many").Count());

        var odd = Names("names").ToList();
        Assert.Contains(odd, n => n.Contains('\n'));
        Assert.Contains(odd, n => n.Contains('\t'));
        Assert.Contains(odd, n => n.Contains('\\'));
        Assert.Contains(odd, n => n.Contains('\xff')); // a byte that is not UTF-8 (names are kept as Latin-1)
        Assert.Contains(odd, n => n.Length == 255 && n.All(c => c < 0x80));
        Assert.Contains(odd, n => n.Length == 255 && n.All(c => c >= 0x80));
        Assert.True(entries.Keys.Max(k => k.Count(c => c == '/')) >= 40);

        Assert.Equal("target", Field("links/relative", "target"));
        Assert.StartsWith("/", Field("links/absolute-dangling", "target"));
        Assert.Equal("itself", Field("links/itself", "target"));
        Assert.Equal("../deep", Field("links/to-directory", "target"));
        Assert.Equal(1000, Field("links/target-1000", "target").Length);
        Assert.Equal(4095, Field("links/target-4095", "target").Length);
        Assert.Equal("hardlinks/file (3 paths)", Field("hardlinks/sub/file-3", "link-group"));
        Assert.Equal("hardlinks/empty (2 paths)", Field("hardlinks/sub/empty-2", "link-group"));
        Assert.Equal("hardlinks/sub/symlink-2 (2 paths)", Field("hardlinks/symlink", "link-group")); // the group is named by its first path in tree order
        Assert.Equal("hardlinks/fifo (2 paths)", Field("hardlinks/sub/fifo-2", "link-group"));
        Assert.Equal("fifo", Field("special/fifo", "type"));
        Assert.Equal("socket", Field("special/socket", "type"));

        Assert.Equal("7777", Field("modes/file-7777", "mode"));
        Assert.Equal("4000", Field("modes/file-4000", "mode"));
        Assert.Equal("1777", Field("modes/dir-1777", "mode"));
        Assert.Equal("2775", Field("modes/dir-2775", "mode"));
        Assert.Equal("\"\"", Field("xattrs/file", "xattr user.empty"));
        Assert.Equal("0x00ff7f80feed", Field("xattrs/file", "xattr user.binary"));
        Assert.Equal(3002, Field("xattrs/file", "xattr user.big").Length);
        Assert.Equal("xattrs/linked (2 paths)", Field("xattrs/linked-2", "link-group"));
        Assert.Equal("\"on the inode\"", Field("xattrs/linked-2", "xattr user.linked"));
        foreach (string t in new[] { "0", "1", "2147483647", "2147483648", "4294967295" })
            Assert.Equal(t, Field($"times/file-{t}", "mtime"));
        Assert.Equal("1704067200", Field("times/file-nanoseconds", "mtime"));
        Assert.Equal("0", Field("times/symlink-0", "mtime"));
        Assert.Equal("4294967295", Field("times/dir-4294967295", "mtime"));

        if (!TestEnv.IsRoot)
            return; // devices, owners and trusted.* need root to be made
        Assert.Equal("4095,1048575", Field("special/char-max", "rdev"));
        Assert.Equal("blockdev", Field("special/block-259-65536", "type"));
        Assert.Equal("259,65536", Field("special/block-259-65536", "rdev"));
        Assert.Equal("4294967294", Field("owners/file-4294967294-4294967293", "uid"));
        Assert.Equal("4294967293", Field("owners/file-4294967294-4294967293", "gid"));
        Assert.Equal("1000", Field("owners/symlink-1000-1000", "uid"));
        Assert.Equal("\"only root sees this\"", Field("xattrs/trusted", "xattr trusted.one"));
        Assert.Equal("\"\"", Field("xattrs/trusted", "xattr trusted.empty"));
        Assert.Equal("\"a symlink\"", Field("xattrs/symlink", "xattr trusted.on-link"));
    }
}
