using Xar.SquashFs;
using Xar.Tests;

namespace Xar.Interop.Tests;

/// <summary>
/// Images written by the real tools (mksquashfs, gensquashfs) with every compressor and option
/// mix, read by our reader: the extraction must hold exactly what the peer (the kernel as root,
/// else unsquashfs) sees in the same image, and `xar ls -l` must print what `unsquashfs -lls` prints.
/// </summary>
public class ReaderCorpusTests : IClassFixture<ReaderCorpusTests.SmallEdge>
{
    private readonly SmallEdge _edge;

    public ReaderCorpusTests(SmallEdge edge) => _edge = edge;

    /// <summary>
    /// The edge corpus without its two 50 MiB files (compressing random data with xz/lzma on two
    /// cores costs most of a minute per image, and hashing 50 MiB of zeros on every comparison adds
    /// nothing that sparse-mixed and the block-boundary files lack; the full corpus has its own test).
    /// </summary>
    public sealed class SmallEdge : IDisposable
    {
        private readonly TempDir _dir = new("edge-small");
        private string? _path;
        private readonly Lock _gate = new();

        public string Path
        {
            get
            {
                lock (_gate)
                {
                    if (_path is not null)
                        return _path;
                    string edge = Corpus.Get("edge");
                    string copy = _dir["edge"];
                    TestEnv.Run("cp", "-a", edge, copy).EnsureSuccess("cp -a edge");
                    File.Delete(System.IO.Path.Combine(copy, "files", "random-50M"));
                    File.Delete(System.IO.Path.Combine(copy, "files", "zeros-50M"));
                    TestEnv.Run("touch", "-r", System.IO.Path.Combine(edge, "files"), System.IO.Path.Combine(copy, "files")).EnsureSuccess("touch -r");
                    return _path = copy;
                }
            }
        }

        public void Dispose() => _dir.Dispose();
    }

    public static TheoryData<string, string[]> MkSquashFsVariants => new()
    {
        { "lzma", ["-comp", "lzma"] },
        { "lzo", ["-comp", "lzo"] },
        { "xz", ["-comp", "xz"] },
        { "lz4", ["-comp", "lz4"] },
        { "zstd", ["-comp", "zstd"] },
        { "uncompressed", ["-noI", "-noD", "-noF", "-noX"] },
        { "no-fragments", ["-no-fragments"] },
        { "always-fragments", ["-always-use-fragments"] },
        { "no-duplicates", ["-no-duplicates"] },
        { "no-xattrs", ["-no-xattrs"] },
        { "block-4K", ["-b", "4K"] },
        { "block-1M", ["-b", "1M"] },
        { "all-root", ["-all-root"] },
        { "xz-bcj-x86", ["-comp", "xz", "-Xbcj", "x86"] },
        { "lz4-hc", ["-comp", "lz4", "-Xhc"] },
        { "exportable-zstd-level", ["-comp", "zstd", "-Xcompression-level", "3", "-exports"] },
    };

    [SkippableTheory]
    [MemberData(nameof(MkSquashFsVariants))]
    public void MkSquashFsImageExtractsAsThePeerSeesIt(string name, string[] options)
    {
        using var tmp = new TempDir("reader-" + name);
        string image = tmp["image.sqfs"];
        ReaderCli.MkSquashFs(_edge.Path, image, options);
        // The kernel has no legacy-lzma decompressor: unsquashfs is the peer for those images.
        string[] via = name == "lzma" ? ["--via-a", "unsquashfs"] : ReaderCli.PeerVia;
        CheckImage(image, tmp["out"], _edge.Path, via, compareSource: options.Length > 0 && options[0] == "-comp");
    }

    [SkippableFact]
    public void FullEdgeGzipThroughTheCliMatchesTheSourceTree()
    {
        string edge = Corpus.Get("edge");
        using var tmp = new TempDir("reader-edge-gzip");
        string image = tmp["edge.sqfs"];
        ReaderCli.MkSquashFs(edge, image);
        string output = tmp["out"];
        ReaderCli.Run("extract", image, "-o", output).EnsureSuccess("xar extract");
        TestEnv.AssertTreesEqual(edge, output);
        var ls = ReaderCli.Run("ls", "-l", image).EnsureSuccess("xar ls -l");
        var lls = TestEnv.Run(TestEnv.FindTool("unsquashfs")!, "-lls", image).EnsureSuccess("unsquashfs -lls");
        AssertSameLines(lls.StandardOutputBytes, ls.StandardOutputBytes);
        var l = ReaderCli.Run("ls", image).EnsureSuccess("xar ls");
        var ul = TestEnv.Run(TestEnv.FindTool("unsquashfs")!, "-l", image).EnsureSuccess("unsquashfs -l");
        AssertSameLines(ul.StandardOutputBytes, l.StandardOutputBytes);
        ReaderCli.Run("verify", image).EnsureSuccess("xar verify");

        // Lookups in the 5000-entry directory go through its directory index: each name must be found.
        using var opened = SquashFsImage.Open(image);
        var many = opened.GetEntry("many")!;
        int count = 0;
        foreach (var e in opened.EnumerateDirectory(many))
        {
            var found = opened.GetEntry(e.NameBytes.Length > 0 ? "many/" + e.Name : "many");
            Assert.True(found is not null && found.InodeNumber == e.InodeNumber, $"lookup of many/{e.Name}");
            count++;
        }
        Assert.Equal(5000, count);
        Assert.Null(opened.GetEntry("many/zzzz-not-there"));
        Assert.Null(opened.GetEntry("many/ "));
    }

    [SkippableFact]
    public void GenSquashFsImageExtractsAsThePeerSeesIt()
    {
        TestEnv.RequireTool("gensquashfs");
        using var tmp = new TempDir("reader-gensquashfs");
        string image = tmp["image.sqfs"];
        TestEnv.Run(new RunOptions(TestEnv.FindTool("gensquashfs")!, ["-D", _edge.Path, "-k", "-x", "-q", "-f", "-c", "zstd", image]) { TimeoutMs = 600_000 })
            .EnsureSuccess("gensquashfs");
        // gensquashfs --pack-dir does not keep hard links or empty xattr values: the peer's view decides.
        CheckImage(image, tmp["out"], _edge.Path, ReaderCli.PeerVia, compareSource: false);
    }

    [SkippableTheory]
    [InlineData("gzip")]
    [InlineData("zstd")]
    public void PythonStdlibExtractsExactly(string compressor)
    {
        string tree = Corpus.Get("python-stdlib");
        using var tmp = new TempDir("reader-python-" + compressor);
        string image = tmp["image.sqfs"];
        ReaderCli.MkSquashFs(tree, image, "-comp", compressor);
        string output = tmp["out"];
        SquashFsFile.ExtractToDirectory(image, output);
        TestEnv.AssertTreesEqual(tree, output);
    }

    private static void CheckImage(string image, string output, string source, string[] via, bool compareSource)
    {
        SquashFsFile.ExtractToDirectory(image, output, new SquashFsExtractOptions { MaxDegreeOfParallelism = 2 });
        TestEnv.AssertTreesEqual(image, output, via);
        if (compareSource)
            TestEnv.AssertTreesEqual(source, output);
        var ls = ReaderCli.Run("ls", "-l", image).EnsureSuccess("xar ls -l");
        var lls = TestEnv.Run(TestEnv.FindTool("unsquashfs")!, "-lls", image).EnsureSuccess("unsquashfs -lls");
        AssertSameLines(lls.StandardOutputBytes, ls.StandardOutputBytes);
        using var opened = SquashFsImage.Open(image);
        opened.Verify();
    }

    private static void AssertSameLines(byte[] expected, byte[] actual)
    {
        if (expected.AsSpan().SequenceEqual(actual))
            return;
        var e = System.Text.Encoding.UTF8.GetString(expected).Split('\n');
        var a = System.Text.Encoding.UTF8.GetString(actual).Split('\n');
        for (int i = 0; i < Math.Min(e.Length, a.Length); i++)
            Assert.True(e[i] == a[i], $"line {i + 1} differs:\nunsquashfs: {e[i]}\nxar:        {a[i]}");
        Assert.Fail($"unsquashfs printed {e.Length} lines, xar {a.Length}");
    }
}
