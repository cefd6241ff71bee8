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

    /// <summary>
    /// An entry named ".." (a hostile image) was listed as <c>squashfs-root/../x</c> with exit 0, a path outside the
    /// listing for whatever reads it; extract and verify refuse such a name, and so does ls now: exit 2, nothing on stdout.
    /// </summary>
    [Theory]
    [InlineData("../x")]
    [InlineData("a/bc")]
    public void AHostileEntryNameIsRefused(string hostile)
    {
        using var tmp = new TempDir("ls-hostile");
        Directory.CreateDirectory(tmp["src/zzqq"]);
        File.WriteAllText(tmp["src/zzqq/payload"], "p\n");
        XarCli.Run("pack", tmp["src"], "-o", tmp["a.sqfs"], "--format", "squashfs", "-c", "none", "-q").EnsureSuccess("xar pack");
        // Uncompressed metadata: the name is stored as is, once (a directory entry).
        byte[] image = File.ReadAllBytes(tmp["a.sqfs"]);
        int at = image.AsSpan().IndexOf("zzqq"u8);
        Assert.True(at > 0 && image.AsSpan(at + 4).IndexOf("zzqq"u8) < 0);
        System.Text.Encoding.ASCII.GetBytes(hostile).CopyTo(image, at);
        File.WriteAllBytes(tmp["a.sqfs"], image);
        var r = XarCli.Run("ls", tmp["a.sqfs"]);
        XarCli.AssertBadInput(r, $"refusing entry name \"{hostile}\"");
        Assert.Equal("", r.StandardOutput);
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
