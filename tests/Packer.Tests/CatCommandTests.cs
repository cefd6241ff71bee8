using Xar.Tests;

namespace Xar.Packer.Tests;

public class CatCommandTests
{
    [SkippableFact]
    public void WritesTheFileBytes()
    {
        using var tmp = new TempDir("cat");
        var (tree, image) = XarCli.Make(tmp, "-b", "4K");
        var r = XarCli.Run("cat", image, "sub/data.bin").EnsureSuccess("cat");
        Assert.Equal(File.ReadAllBytes(Path.Combine(tree, "sub", "data.bin")), r.StandardOutputBytes);
        // Symlinks inside the image are followed.
        Assert.Equal(File.ReadAllBytes(Path.Combine(tree, "sub", "data.bin")), XarCli.Run("cat", image, "link").EnsureSuccess("cat link").StandardOutputBytes);
        Assert.Equal("hello, world\n", XarCli.Run("cat", image, "/hello.txt").EnsureSuccess("cat").StandardOutput);
    }

    [SkippableFact]
    public void DirectoriesAndMissingPathsExitTwo()
    {
        using var tmp = new TempDir("cat-bad");
        var (_, image) = XarCli.Make(tmp);
        XarCli.AssertBadInput(XarCli.Run("cat", image, "sub"), "not a regular file");
        XarCli.AssertBadInput(XarCli.Run("cat", image, "missing"), "no such file");
    }

    /// <summary>Attack 7: `xar cat … | head -c1` exited 0; a closed pipe is a failure (SIGPIPE), with no message.</summary>
    [SkippableFact]
    public void ClosedPipeIsAFailure()
    {
        using var tmp = new TempDir("cat-pipe");
        var (_, image) = XarCli.Make(tmp);
        var r = TestEnv.Run("bash", "-c", "\"$0\" cat \"$1\" sub/data.bin | head -c1 >/dev/null; echo \"${PIPESTATUS[0]}\"", XarBinary.Path, image);
        Assert.Equal("141\n", r.StandardOutput);
        Assert.Equal("", r.StandardError);
    }
}
