using Xar.SquashFs.Format;
using Xar.Tests;

namespace Xar.SquashFs.Tests;

/// <summary>Review findings on extraction: each test once failed against the code it names.</summary>
public class ReviewExtractionTests
{
    /// <summary>
    /// A corrupt data block found by a worker thread while the tree walk is still going must surface
    /// as the corruption itself (SquashFsCorruptException, exit 2), not as a generic "extraction
    /// stopped" IOException (exit 1).
    /// </summary>
    [SkippableFact]
    public void CorruptDataBlockDuringParallelExtractionIsReportedAsCorruption()
    {
        using var tmp = new TempDir("review-par");
        string tree = tmp["tree"];
        Directory.CreateDirectory(tree);
        var text = new System.Text.StringBuilder();
        for (int i = 0; i < 2000; i++)
            text.Append(i).Append('\n');
        for (int i = 0; i < 1500; i++)
            File.WriteAllText(Path.Combine(tree, $"f{i:D4}"), $"{i}\n{text}");
        byte[] image = ReadingTestImages.MkSquashFs(tree, tmp["base.sqfs"], "-comp", "gzip", "-b", "4096", "-no-fragments");
        // The first file's first data block sits right after the superblock: garble it.
        for (int p = 120; p < 300; p++)
            image[p] ^= 0x55;
        string bad = tmp["bad.sqfs"];
        File.WriteAllBytes(bad, image);
        string parent = tmp["out"];
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
