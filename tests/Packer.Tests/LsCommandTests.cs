using Xar.Tests;

namespace Xar.Packer.Tests;

public class LsCommandTests
{
    [SkippableFact]
    public void ListsLikeUnsquashfs()
    {
        TestEnv.RequireTool("unsquashfs");
        using var tmp = new TempDir("ls");
        var (_, image) = XarCli.Make(tmp);
        string unsquashfs = TestEnv.FindTool("unsquashfs")!;
        Assert.Equal(TestEnv.Run(unsquashfs, "-l", image).StandardOutput, XarCli.Run("ls", image).EnsureSuccess("ls").StandardOutput);
        Assert.Equal(TestEnv.Run(unsquashfs, "-lls", image).StandardOutput, XarCli.Run("ls", "-l", image).EnsureSuccess("ls -l").StandardOutput);
        Assert.Equal(TestEnv.Run(unsquashfs, "-lls", image, "sub").StandardOutput, XarCli.Run("ls", "-l", image, "sub").EnsureSuccess("ls -l sub").StandardOutput);
        Assert.Equal(TestEnv.Run(unsquashfs, "-l", image, "sub/data.bin").StandardOutput, XarCli.Run("ls", image, "sub/data.bin").EnsureSuccess("ls file").StandardOutput);
    }

    [SkippableFact]
    public void MissingPathExitsTwo()
    {
        using var tmp = new TempDir("ls-missing");
        var (_, image) = XarCli.Make(tmp);
        XarCli.AssertBadInput(XarCli.Run("ls", image, "nope/nothing"), "no such path");
    }

    /// <summary>`xar ls a.xar nope` printed "squashfs-root" before its error: on an error, stdout stays empty.</summary>
    [SkippableTheory]
    [InlineData("nope")]
    [InlineData("sub/nope")]
    [InlineData("hello.txt/nope")]
    [InlineData("nope/nothing")]
    public void MissingPathWritesNothingToStdout(string path)
    {
        using var tmp = new TempDir("ls-missing-stdout");
        var (_, image) = XarCli.Make(tmp);
        foreach (string[] options in new[] { Array.Empty<string>(), ["-l"] })
        {
            var r = XarCli.Run(["ls", .. options, image, path]);
            XarCli.AssertBadInput(r, "no such path");
            Assert.Equal("", r.StandardOutput);
        }
    }

    /// <summary>Attack 7: `xar ls … | head -1` exited 0; a closed pipe is a failure (SIGPIPE), with no message.</summary>
    [Fact]
    public void ClosedPipeIsAFailure()
    {
        using var tmp = new TempDir("ls-pipe");
        string tree = tmp["tree"];
        Directory.CreateDirectory(tree);
        // A listing well over a pipe's 64 KiB, so that writing goes on after head has gone.
        for (int i = 0; i < 3000; i++)
            File.WriteAllText(Path.Combine(tree, $"a-file-with-a-fairly-long-name-{i:D5}.txt"), "");
        string image = tmp["image.sqfs"];
        Xar.SquashFs.SquashFsFile.CreateFromDirectory(tree, image);
        var r = TestEnv.Run("bash", "-c", "\"$0\" ls \"$1\" | head -1 >/dev/null; echo \"${PIPESTATUS[0]}\"", XarBinary.Path, image);
        Assert.Equal("141\n", r.StandardOutput);
        Assert.Equal("", r.StandardError);
    }
}
