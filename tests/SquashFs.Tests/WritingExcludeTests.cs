using System.Text;
using Xar.SquashFs.Writing;

namespace Xar.SquashFs.Tests;

/// <summary>The --exclude patterns (ExcludeMatcher): names at any depth, paths from the root, `**`.</summary>
public class WritingExcludeTests
{
    [Theory]
    [InlineData("*.pyc", "a/b/c.pyc", "c.pyc", true)]
    [InlineData("*.pyc", "a/b/c.py", "c.py", false)]
    [InlineData("__pycache__", "lib/__pycache__", "__pycache__", true)]
    [InlineData("a/*.txt", "a/x.txt", "x.txt", true)]
    [InlineData("a/*.txt", "a/b/x.txt", "x.txt", false)]
    [InlineData("a/**/x.txt", "a/b/c/x.txt", "x.txt", true)]
    [InlineData("a/**/x.txt", "a/x.txt", "x.txt", true)]
    [InlineData("/top", "top", "top", true)]
    [InlineData("/top", "sub/top", "top", false)]
    [InlineData("f[0-9]?", "f12", "f12", true)]
    [InlineData("f[!0-9]*", "f12", "f12", false)]
    [InlineData("dir/", "dir", "dir", true)]
    [InlineData("\\*", "*", "*", true)]
    [InlineData("\\*", "x", "x", false)]
    public void ExcludePatterns(string pattern, string path, string name, bool excluded)
    {
        var m = new ExcludeMatcher([pattern]);
        Assert.Equal(excluded, m.IsExcluded(Encoding.UTF8.GetBytes(path), Encoding.UTF8.GetBytes(name)));
    }
}
