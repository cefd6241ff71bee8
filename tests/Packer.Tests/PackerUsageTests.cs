using Xar.Tests;

namespace Xar.Packer.Tests;

/// <summary>The `xar` command line as a whole: help, unknown commands, parse errors, a directory given as FILE.</summary>
public class PackerUsageTests
{
    [Fact]
    public void HelpExitsZero() => Assert.Equal(0, Xar.Packer.Program.Main(["--help"]));

    /// <summary>The top-level list showed `ls <FILE> <PATH>` and `extract <FILE> <PATH>`, as if PATH were required.</summary>
    [Fact]
    public void TopLevelHelpShowsOptionalArgumentsAsOptional()
    {
        string help = XarCli.Run("--help").EnsureSuccess("xar --help").StandardOutput;
        Assert.Contains("  ls <FILE> [<PATH>] ", help);
        Assert.Contains("  extract <FILE> [<PATH>...] ", help);
        Assert.Contains("  run <FILE> [<ARGS>...] ", help);
        Assert.Contains("  cat <FILE> <PATH> ", help);
        Assert.DoesNotContain("ls <FILE> <PATH>", help);
        // The descriptions still line up in one column.
        var rows = help[help.IndexOf("Commands:", StringComparison.Ordinal)..].Split('\n').Skip(1).Where(l => l.StartsWith("  ", StringComparison.Ordinal)).ToArray();
        Assert.True(rows.Length >= 10);
        Assert.Single(rows.Select(DescriptionColumn).Distinct());
    }

    /// <summary>Where the description starts: after the label and the gap of two or more spaces.</summary>
    private static int DescriptionColumn(string row)
    {
        int i = row.IndexOf("  ", 2, StringComparison.Ordinal);
        while (row[i] == ' ')
            i++;
        return i;
    }

    /// <summary>Parse errors used to print one line per error, and a value list over several lines.</summary>
    [SkippableTheory]
    [InlineData("pack", "SRC", "-o", "OUT", "-c", "lzo")]
    [InlineData("info", "IMG", "extra1", "extra2")]
    [InlineData("ls", "IMG", "--bogus", "-x")]
    public void ParseErrorsAreOneLine(params string[] args)
    {
        using var tmp = new TempDir("usage");
        var (tree, image) = XarCli.Make(tmp);
        var resolved = args.Select(a => a switch { "SRC" => tree, "OUT" => tmp["out.xar"], "IMG" => image, _ => a }).ToArray();
        var r = TestEnv.Run(new RunOptions(XarBinary.Path, resolved));
        XarCli.AssertBadInput(r);
        Assert.False(File.Exists(tmp["out.xar"]));
    }

    [SkippableFact]
    public void UnknownCommandIsNamed()
    {
        var r = TestEnv.Run(new RunOptions(XarBinary.Path, ["bogus"]));
        XarCli.AssertBadInput(r);
        Assert.Contains("bogus", r.StandardError);
    }

    /// <summary>
    /// A directory given as FILE: `xar mount DIR` said "Access to the path is denied" with exit 1,
    /// `xar run DIR` said "no such file". Both are bad input, exit 2, saying what it is.
    /// </summary>
    [SkippableTheory]
    [InlineData("mount")]
    [InlineData("run")]
    [InlineData("info")]
    [InlineData("ls")]
    [InlineData("cat")]
    [InlineData("extract")]
    [InlineData("verify")]
    public void DirectoryGivenAsFileIsBadInput(string command)
    {
        using var tmp = new TempDir("usage");
        string dir = tmp["somedir"];
        Directory.CreateDirectory(dir);
        string[] args = command switch
        {
            "cat" => [command, dir, "x"],
            "extract" => [command, dir, "-o", tmp["out"]],
            _ => [command, dir],
        };
        var r = TestEnv.Run(new RunOptions(XarBinary.Path, args) { Environment = new Dictionary<string, string?> { ["XAR_MOUNT_ROOT"] = tmp["nomount"] } });
        XarCli.AssertBadInput(r);
        Assert.Contains("directory", r.StandardError);
        Assert.False(Path.Exists(tmp["out"]));
    }
}
