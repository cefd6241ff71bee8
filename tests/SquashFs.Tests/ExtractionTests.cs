using Xar.SquashFs.Format;
using Xar.Tests;

namespace Xar.SquashFs.Tests;

/// <summary>SquashFsFile.ExtractToDirectory: the whole tree or chosen paths, complete or not at all.</summary>
public sealed class ExtractionTests : IDisposable
{
    private readonly TempDir _tmp = new("extraction");

    public void Dispose() => _tmp.Dispose();

    [SkippableFact]
    public void ExtractionRestoresTheTreeAndSubsets()
    {
        string tree = _tmp["tree"];
        string imagePath = _tmp["image.sqfs"];
        ReadingTestImages.MakeSmallTree(tree);
        ReadingTestImages.MkSquashFs(tree, imagePath, "-b", "4K");
        string all = _tmp["all"];
        SquashFsFile.ExtractToDirectory(imagePath, all);
        TestEnv.AssertTreesEqual(tree, all);
        Assert.Throws<IOException>(() => SquashFsFile.ExtractToDirectory(imagePath, all));

        string some = _tmp["some"];
        using (var image = SquashFsImage.Open(imagePath))
            SquashFsFile.ExtractToDirectory(image, some, new SquashFsExtractOptions { Paths = ["sub/deeper", "hello.txt"], MaxDegreeOfParallelism = 1 });
        Assert.True(File.Exists(Path.Combine(some, "sub", "deeper", "b")));
        Assert.True(File.Exists(Path.Combine(some, "hello.txt")));
        Assert.False(File.Exists(Path.Combine(some, "sub", "a")));
        Assert.False(File.Exists(Path.Combine(some, "blocks.bin")));
        Assert.Throws<FileNotFoundException>(() => SquashFsFile.ExtractToDirectory(imagePath, _tmp["none"], new SquashFsExtractOptions { Paths = ["dirlink/deeper"] }));
        Assert.False(Directory.Exists(_tmp["none"]));
    }

    /// <summary>
    /// A corrupt data block found by a worker thread while the tree walk is still going must surface
    /// as the corruption itself (SquashFsCorruptException, exit 2), not as a generic "extraction
    /// stopped" IOException (exit 1).
    /// </summary>
    [SkippableFact]
    public void CorruptDataBlockDuringParallelExtractionIsReportedAsCorruption()
    {
        string tree = _tmp["tree"];
        Directory.CreateDirectory(tree);
        var text = new System.Text.StringBuilder();
        for (int i = 0; i < 2000; i++)
            text.Append(i).Append('\n');
        for (int i = 0; i < 1500; i++)
            File.WriteAllText(Path.Combine(tree, $"f{i:D4}"), $"{i}\n{text}");
        byte[] image = ReadingTestImages.MkSquashFs(tree, _tmp["base.sqfs"], "-comp", "gzip", "-b", "4096", "-no-fragments");
        // The first file's first data block sits right after the superblock: garble it.
        for (int p = 120; p < 300; p++)
            image[p] ^= 0x55;
        string bad = _tmp["bad.sqfs"];
        File.WriteAllBytes(bad, image);
        string parent = _tmp["out"];
        Directory.CreateDirectory(parent);
        for (int round = 0; round < 3; round++)
        {
            var e = Assert.ThrowsAny<InvalidArchiveException>(() =>
                SquashFsFile.ExtractToDirectory(bad, Path.Combine(parent, "x"), new SquashFsExtractOptions { MaxDegreeOfParallelism = 4 }));
            Assert.Contains("block", e.Message);
            Assert.Empty(Directory.GetFileSystemEntries(parent));
        }
    }
}
