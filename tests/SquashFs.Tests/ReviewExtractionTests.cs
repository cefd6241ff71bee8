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

    /// <summary>A hostile name at the top of the image was reported as ": refusing ..." (an empty directory name before the colon).</summary>
    [SkippableFact]
    public void HostileNameAtTheRootNamesTheRootDirectory()
    {
        using var tmp = new TempDir("review-rootname");
        string tree = tmp["tree"];
        Directory.CreateDirectory(Path.Combine(tree, "zz"));
        File.WriteAllText(Path.Combine(tree, "zz", "payload"), "escaped");
        byte[] image = ReadingTestImages.MkSquashFs(tree, tmp["base.sqfs"], "-noI", "-noD", "-noF", "-noX", "-no-xattrs");
        var sb = Superblock.Read(image);
        int at = -1;
        for (int p = (int)sb.DirectoryTableStart; p < image.Length - 1; p++)
            if (image[p] == (byte)'z' && image[p + 1] == (byte)'z' && image[p - 2] == 1 && image[p - 1] == 0)
                at = p;
        Assert.True(at > 0);
        image[at] = image[at + 1] = (byte)'.';
        string path = tmp["hostile.sqfs"];
        File.WriteAllBytes(path, image);
        var e = Assert.ThrowsAny<InvalidArchiveException>(() => SquashFsFile.ExtractToDirectory(path, tmp["out"]));
        Assert.StartsWith("/: refusing entry name \"..\"", e.Message);
        Assert.False(File.Exists(Path.Combine(tmp.Path, "payload")));
        Assert.False(Directory.Exists(tmp["out"]));
    }
}
