namespace Xar.Packer.Tests;

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
}
