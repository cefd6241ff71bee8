using Xar.Tests;

namespace Xar.Packer.Tests;

public class ExtractCommandTests
{
    [SkippableFact]
    public void ExtractsAllOrSomePaths()
    {
        using var tmp = new TempDir("extract");
        var (tree, image) = ExtractTestImages.Make(tmp);
        ExtractTestImages.Run("extract", image, "-o", tmp["all"]).EnsureSuccess("extract");
        TestEnv.AssertTreesEqual(tree, tmp["all"]);
        ExtractTestImages.Run("extract", image, "-o", tmp["some"], "-j", "1", "sub").EnsureSuccess("extract sub");
        Assert.True(File.Exists(Path.Combine(tmp["some"], "sub", "data.bin")));
        Assert.False(File.Exists(Path.Combine(tmp["some"], "hello.txt")));
        // Default destination: squashfs-root in the current directory.
        var r = TestEnv.Run(new RunOptions(ExtractTestImages.Xar, ["extract", image]) { WorkingDirectory = tmp.Path });
        r.EnsureSuccess("extract to squashfs-root");
        Assert.True(File.Exists(Path.Combine(tmp["squashfs-root"], "hello.txt")));
    }

    [SkippableFact]
    public void RefusesExistingDestinationAndMissingPaths()
    {
        using var tmp = new TempDir("extract-bad");
        var (_, image) = ExtractTestImages.Make(tmp);
        Directory.CreateDirectory(tmp["exists"]);
        var r = ExtractTestImages.Run("extract", image, "-o", tmp["exists"]);
        Assert.Equal(1, r.ExitCode);
        Assert.Contains("already exists", r.StandardError);
        ExtractTestImages.AssertBadInput(ExtractTestImages.Run("extract", image, "-o", tmp["x"], "nothing/here"), "no such path");
        Assert.False(Directory.Exists(tmp["x"]));
    }

    [SkippableFact]
    public void CorruptImageLeavesNothingBehind()
    {
        using var tmp = new TempDir("extract-corrupt");
        var (_, image) = ExtractTestImages.Make(tmp, "-noI", "-noD");
        byte[] bytes = File.ReadAllBytes(image);
        // Cut the image inside its data: the superblock promises more than there is.
        File.WriteAllBytes(tmp["cut.sqfs"], bytes[..(bytes.Length / 2)]);
        string outDir = tmp["outdir"];
        Directory.CreateDirectory(outDir);
        ExtractTestImages.AssertBadInput(ExtractTestImages.Run("extract", tmp["cut.sqfs"], "-o", Path.Combine(outDir, "x")), "truncated");
        Assert.Empty(Directory.GetFileSystemEntries(outDir));
    }
}
