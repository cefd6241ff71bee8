using Xar.Tests;

namespace Xar.Interop.Tests;

public class CorpusTests
{
    [SkippableFact]
    public void EdgeCorpusIsIdenticalToItself()
    {
        TestEnv.RequireTool("python3");
        string edge = Corpus.Get("edge");
        Assert.True(Directory.Exists(Path.Combine(edge, "files")));
        TestEnv.AssertTreesEqual(edge, edge);
    }
}
