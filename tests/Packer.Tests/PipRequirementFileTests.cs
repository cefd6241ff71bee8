using Xar.Packer.Python;
using Xar.Tests;

namespace Xar.Packer.Tests;

/// <summary>
/// `xar python`'s reading of requirements and constraints files for OUT's check: which PIP_ARGS name such files (as
/// pip's optparse reads them), and what paths their lines name, nested files followed relative to the file that names them.
/// </summary>
public sealed class PipRequirementFileTests
{
    [Theory]
    [InlineData("r.txt", "-r", "r.txt")]
    [InlineData("r.txt", "-rr.txt")]
    [InlineData("r.txt", "-Ur", "r.txt")]
    [InlineData("r.txt", "-qUrr.txt")]
    [InlineData("r.txt", "--requirement=r.txt")]
    [InlineData("r.txt", "--req", "r.txt")]
    [InlineData("c.txt", "-c", "c.txt")]
    [InlineData("c.txt", "--constr=c.txt")]
    [InlineData("c.txt", "--constraint", "c.txt")]
    public void RequirementAndConstraintFilesAreFoundHoweverTheyAreGiven(string expected, params string[] args) =>
        Assert.Equal([expected], PipRequirementFiles.GivenFiles(["wordcount", .. args, "--no-index"]));

    [Theory]
    [InlineData("-f", "r.txt")] // -f's value, not a requirements file
    [InlineData("-fr.txt")]
    [InlineData("-ir.txt")]
    [InlineData("--root-user-action=r.txt")]
    [InlineData("--no-index", "r.txt")] // a requirement, not an option's value
    public void OtherOptionsAndWordsAreNotRequirementFiles(params string[] args) =>
        Assert.Empty(PipRequirementFiles.GivenFiles(args));

    /// <summary>
    /// Every path a line may name (a project folder with extras, a wheel, a file: URL, --find-links's value), past comments
    /// and continuations, in nested -r and -c files (relative to the file that names them), each file read once.
    /// </summary>
    [Fact]
    public void PathsNamedInsideAreFoundToAnyDepth()
    {
        using var tmp = new TempDir();
        Directory.CreateDirectory(tmp["sub"]);
        File.WriteAllText(tmp["top.txt"], $"""
            # a comment naming {tmp["commented"]}
            ./proj[extra] ; python_version > "3"
            -r sub/nested.txt
            wordcount @ file://{tmp["w.whl"]}#sha256=0
            --find-links={tmp["links"]} \
              {tmp["continued"]}
            name==1.0 # {tmp["trailing"]}
            """);
        File.WriteAllText(tmp["sub/nested.txt"], "--constraint c.txt\n-r ../top.txt\n");
        File.WriteAllText(tmp["sub/c.txt"], $"-e {tmp["editable"]}\n");
        var found = PipRequirementFiles.NamedPaths(["-r", tmp["top.txt"]]).ToList();
        var paths = found.Select(f => f.Path).ToHashSet();
        foreach (string path in (string[])[tmp["proj"], tmp["sub/nested.txt"], tmp["w.whl"], tmp["links"], tmp["continued"], tmp["sub/c.txt"], tmp["editable"]])
            Assert.Contains(path, paths);
        Assert.DoesNotContain(tmp["commented"], paths);
        Assert.DoesNotContain(tmp["trailing"], paths);
        Assert.Contains((tmp["editable"], tmp["sub/c.txt"]), found);
        Assert.Equal(3, found.Select(f => f.NamedIn).Distinct().Count());
    }
}
