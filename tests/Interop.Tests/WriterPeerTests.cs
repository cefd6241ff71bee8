using System.Text.RegularExpressions;
using Xar.Tests;

namespace Xar.Interop.Tests;

/// <summary>
/// Images written by `xar pack` read back by the real peers (unsquashfs, the Linux kernel,
/// squashfuse_ll) hold exactly the source tree (TestEnv.AssertTreesEqual), and `unsquashfs -s` reports what was asked.
/// </summary>
[Collection("writer-interop")]
public class WriterPeerTests
{
    private static readonly string[] Readers = ["kernel", "unsquashfs", "squashfuse_ll"];

    private static void RequirePeers()
    {
        TestEnv.RequireRoot();
        TestEnv.RequireTool("unsquashfs");
        TestEnv.RequireTool("python3");
        TestEnv.RequireFuse();
    }

    private static void AssertSuperblock(string image, string compressor, int blockSize)
    {
        var r = TestEnv.Run("unsquashfs", "-s", image).EnsureSuccess("unsquashfs -s");
        Assert.Matches(new Regex($"^Compression {compressor}$", RegexOptions.Multiline), r.StandardOutput);
        Assert.Matches(new Regex($"^Block size {blockSize}$", RegexOptions.Multiline), r.StandardOutput);
    }

    private static void AssertReadBack(string source, string image, IEnumerable<string> readers)
    {
        foreach (string via in readers)
            TestEnv.AssertTreesEqual(source, image, "--via", via);
    }

    [SkippableTheory]
    [InlineData("gzip")]
    [InlineData("zstd")]
    [InlineData("xz")]
    [InlineData("lz4")]
    [InlineData("none")]
    public void EdgeTreeWithEachCompressor(string compression)
    {
        RequirePeers();
        string edge = Corpus.Get("edge");
        using var dir = new TempDir("writer-edge");
        string image = dir["edge.sqfs"];
        XarProgram.Pack(edge, image, "--format", "squashfs", "-c", compression);
        // "none" is stored raw under gzip's id, as mksquashfs -noI -noD -noF -noX does
        AssertSuperblock(image, compression == "none" ? "gzip" : compression, 131072);
        if (compression == "none")
            Assert.Contains("Data is uncompressed", TestEnv.Run("unsquashfs", "-s", image).StandardOutput);
        AssertReadBack(edge, image, Readers);
    }

    [SkippableTheory]
    [InlineData("4K", 4096)]
    [InlineData("1M", 1048576)]
    public void EdgeTreeAtSmallestAndLargestBlockSize(string blockSize, int bytes)
    {
        RequirePeers();
        string edge = Corpus.Get("edge");
        using var dir = new TempDir("writer-bs");
        string image = dir["edge.sqfs"];
        XarProgram.Pack(edge, image, "--format", "squashfs", "-b", blockSize);
        AssertSuperblock(image, "zstd", bytes);
        AssertReadBack(edge, image, Readers);
    }

    [SkippableFact]
    public void EdgeTreeWithoutFragmentsOrDedup()
    {
        RequirePeers();
        string edge = Corpus.Get("edge");
        using var dir = new TempDir("writer-nofrag");
        string image = dir["edge.sqfs"];
        XarProgram.Pack(edge, image, "--format", "squashfs", "-c", "gzip", "--no-fragments", "--no-dedup");
        var s = TestEnv.Run("unsquashfs", "-s", image).EnsureSuccess("unsquashfs -s").StandardOutput;
        Assert.Contains("Number of fragments 0", s);
        AssertReadBack(edge, image, Readers);
    }

    /// <summary>
    /// Files whose full blocks are equal and whose tails differ (or one has none) share one block run, as mksquashfs
    /// stores them; each keeps its own tail. The peers read every file back exactly, and the image is smaller than
    /// without dedup by three runs (before, only the whole-file twin shared, one run).
    /// </summary>
    [SkippableFact]
    public void FilesWithEqualFullBlocksAndOtherTailsShareTheBlocks()
    {
        RequirePeers();
        using var dir = new TempDir("writer-runs");
        string tree = dir["tree"];
        Directory.CreateDirectory(tree);
        const int Run = 3 * 131072;
        byte[] blocks = new byte[Run];
        new Random(7).NextBytes(blocks); // incompressible: each run takes its full size
        byte[] other = new byte[Run];
        new Random(8).NextBytes(other);
        File.WriteAllBytes(Path.Combine(tree, "a"), [.. blocks, .. "tail one\n"u8]);
        File.WriteAllBytes(Path.Combine(tree, "b"), [.. blocks, .. "another tail\n"u8]);
        File.WriteAllBytes(Path.Combine(tree, "c"), blocks);
        File.WriteAllBytes(Path.Combine(tree, "d"), [.. other, .. "tail one\n"u8]);
        File.WriteAllBytes(Path.Combine(tree, "e"), [.. blocks, .. "tail one\n"u8]);
        string image = dir["runs.sqfs"], plain = dir["plain.sqfs"];
        XarProgram.Pack(tree, image, "--format", "squashfs", "-c", "gzip");
        XarProgram.Pack(tree, plain, "--format", "squashfs", "-c", "gzip", "--no-dedup");
        long saved = new FileInfo(plain).Length - new FileInfo(image).Length;
        Assert.True(saved >= 3L * Run - 4096, $"dedup saved {saved} bytes; three runs of {Run} expected");
        AssertReadBack(tree, image, Readers);
    }

    [SkippableTheory]
    [InlineData("python-stdlib", "zstd")]
    [InlineData("usr-share-doc", "gzip")]
    [InlineData("dotnet-sdk", "lz4")]
    [InlineData("usr-share-doc", "xz")]
    [InlineData("python-stdlib", "none")]
    public void RealTreeWithOneCompressor(string corpus, string compression)
    {
        RequirePeers();
        string tree = Corpus.Get(corpus);
        using var dir = new TempDir("writer-real");
        string image = dir["tree.sqfs"];
        XarProgram.Pack(tree, image, "--format", "squashfs", "-c", compression, "-j", "2");
        AssertSuperblock(image, compression == "none" ? "gzip" : compression, 131072);
        AssertReadBack(tree, image, ["kernel"]);
    }

    [SkippableFact]
    public void CompressionLevelsAndXattrOptionsReachThePeers()
    {
        RequirePeers();
        string edge = Corpus.Get("edge");
        using var dir = new TempDir("writer-opts");
        string image = dir["edge.sqfs"];
        XarProgram.Pack(edge, image, "--format", "squashfs", "-c", "gzip", "--level", "1", "--no-xattrs");
        var s = TestEnv.Run("unsquashfs", "-s", image).EnsureSuccess("unsquashfs -s").StandardOutput;
        Assert.Matches(new Regex(@"compression-level 1\b"), s);
        TestEnv.AssertTreesEqual(edge, image, "--via", "kernel", "--no-xattrs");
        Assert.Contains("Xattrs are not stored", s, StringComparison.OrdinalIgnoreCase);
    }

    /// <summary>A sparse file over 4 GiB (extended inode, 64-bit size) with data at both ends; holes are not read.</summary>
    [SkippableFact]
    public void FileOver4GiBWithHoles()
    {
        RequirePeers();
        using var dir = new TempDir("writer-huge");
        string src = dir["src"];
        Directory.CreateDirectory(src);
        string huge = Path.Combine(src, "huge");
        var random = new Random(11);
        var head = new byte[4097];
        random.NextBytes(head);
        using (var f = new FileStream(huge, FileMode.CreateNew))
        {
            f.Write(head);
            f.Position = (1L << 32) + 12345;
            random.NextBytes(head);
            f.Write(head);
        }
        string image = dir["huge.sqfs"];
        XarProgram.Pack(src, image, "--format", "squashfs", "-c", "gzip");
        Assert.True(new FileInfo(image).Length < 64 * 1024);
        AssertReadBack(src, image, ["kernel"]);
    }

    [SkippableFact]
    public void OwnerAndTimeOverridesApplyToEveryEntry()
    {
        RequirePeers();
        using var dir = new TempDir("writer-own");
        string src = dir["src"];
        Directory.CreateDirectory(Path.Combine(src, "sub"));
        File.WriteAllText(Path.Combine(src, "sub", "f"), "x");
        File.CreateSymbolicLink(Path.Combine(src, "l"), "sub/f");
        string image = dir["o.sqfs"];
        XarProgram.Pack(src, image, "--format", "squashfs", "--uid", "1234", "--gid", "5678", "--mtime", "1000000000");
        var r = TestEnv.Run("unsquashfs", "-lln", image).EnsureSuccess("unsquashfs -lln");
        var lines = r.StandardOutput.Split('\n').Where(l => l.Contains("squashfs-root")).ToList();
        Assert.Equal(4, lines.Count);
        Assert.All(lines, l => Assert.Contains("1234/5678", l));
        Assert.All(lines, l => Assert.Contains("2001-09-09", l));
    }

    /// <summary>
    /// One sort file, read by mksquashfs and by us from the same directory: a path from the current
    /// directory ("./"), an absolute one, "DIR/*" and a plain SOURCE_DIR-relative one put the file
    /// data in the same order in both images (stored raw, so the bytes show the order).
    /// </summary>
    [SkippableFact]
    public void SortFileMeansWhatItMeansToMksquashfs()
    {
        TestEnv.RequireTool("mksquashfs");
        using var dir = new TempDir("writer-sort");
        string src = dir["src"];
        Directory.CreateDirectory(Path.Combine(src, "b"));
        foreach (var name in new[] { "a", "b/c", "d", "e", "f" })
            File.WriteAllText(Path.Combine(src, name), $"MARKER-{name.Replace('/', '-')}-" + new string('x', 6000));
        File.WriteAllText(dir["sort"], $"./src/d 10\nb/* 5\n{Path.Combine(src, "a")} -3\nf 2\n");
        XarProgram.RunIn(dir.Path, null, "pack", "src", "-o", "ours.sqfs", "--quiet", "--format", "squashfs", "-c", "none", "--no-fragments", "--sort", "sort")
            .EnsureSuccess("xar pack --sort");
        TestEnv.Run(new RunOptions("mksquashfs", ["src", "theirs.sqfs", "-noI", "-noD", "-noF", "-noX", "-no-fragments", "-sort", "sort", "-noappend", "-quiet"])
            { WorkingDirectory = dir.Path }).EnsureSuccess("mksquashfs -sort");
        string[] expected = ["MARKER-d-", "MARKER-b-c-", "MARKER-f-", "MARKER-e-", "MARKER-a-"];
        foreach (var image in new[] { "theirs.sqfs", "ours.sqfs" })
        {
            string text = System.Text.Encoding.Latin1.GetString(File.ReadAllBytes(dir[image]));
            var order = expected.OrderBy(m => text.IndexOf(m, StringComparison.Ordinal)).ToArray();
            Assert.All(expected, m => Assert.Contains(m, text));
            Assert.Equal(expected, order);
        }
    }
}
