using Xar.Tests;

namespace Xar.Interop.Tests;

/// <summary>Review findings on the `xar` command line contract: one line, right exit status, no stack trace.</summary>
public class ReviewCliTests
{
    private static string SmallImage(TempDir tmp)
    {
        string tree = tmp["tree"];
        Directory.CreateDirectory(Path.Combine(tree, "d"));
        File.WriteAllText(Path.Combine(tree, "d", "f"), "f\n");
        File.WriteAllText(Path.Combine(tree, "t"), "t\n");
        string image = tmp["small.sqfs"];
        ReaderCli.MkSquashFs(tree, image);
        return image;
    }

    private static void AssertOneLineError(ProcessResult r, int exitCode)
    {
        Assert.Equal(exitCode, r.ExitCode);
        Assert.DoesNotContain("   at ", r.StandardError);
        Assert.DoesNotContain("Unhandled exception", r.StandardError);
        var lines = r.StandardError.Split('\n', StringSplitOptions.RemoveEmptyEntries);
        Assert.Single(lines);
        Assert.StartsWith("xar: ", lines[0]);
    }

    /// <summary>A PATH with ".." that resolves inside the image used to escape as an unhandled ArgumentException.</summary>
    [SkippableTheory]
    [InlineData("/d/../t")]
    [InlineData("d/./f")]
    public void ExtractPathWithDotComponentsIsAUsageError(string path)
    {
        using var tmp = new TempDir("review-cli");
        string image = SmallImage(tmp);
        var r = TestEnv.Run(new RunOptions(ReaderCli.XarPath, ["extract", image, path, "-o", tmp["out"]]));
        AssertOneLineError(r, 2);
        Assert.False(Directory.Exists(tmp["out"]));
    }

    /// <summary>Parse errors used to print one line per error, and a value list over several lines.</summary>
    [SkippableTheory]
    [InlineData("pack", "SRC", "-o", "OUT", "-c", "lzo")]
    [InlineData("info", "IMG", "extra1", "extra2")]
    [InlineData("ls", "IMG", "--bogus", "-x")]
    public void ParseErrorsAreOneLine(params string[] args)
    {
        using var tmp = new TempDir("review-cli");
        string image = SmallImage(tmp);
        var resolved = args.Select(a => a switch { "SRC" => tmp["tree"], "OUT" => tmp["out.xar"], "IMG" => image, _ => a }).ToArray();
        var r = TestEnv.Run(new RunOptions(ReaderCli.XarPath, resolved));
        AssertOneLineError(r, 2);
        Assert.False(File.Exists(tmp["out.xar"]));
    }
}
