using Xar.Tests;

namespace Xar.Packer.Tests;

/// <summary>The `xar` program the command tests run (<see cref="XarBinary"/>), small mksquashfs images to run it on, its one-line errors.</summary>
internal static class XarCli
{
    public static ProcessResult Run(params string[] args) => TestEnv.Run(XarBinary.Path, args);

    /// <summary>A small tree and its mksquashfs image: (tree, image).</summary>
    public static (string Tree, string Image) Make(TempDir tmp, params string[] options)
    {
        TestEnv.RequireTool("mksquashfs");
        string tree = tmp["tree"];
        Directory.CreateDirectory(Path.Combine(tree, "sub"));
        File.WriteAllText(Path.Combine(tree, "hello.txt"), "hello, world\n");
        var data = new byte[300_000];
        new Random(5).NextBytes(data);
        File.WriteAllBytes(Path.Combine(tree, "sub", "data.bin"), data);
        File.CreateSymbolicLink(Path.Combine(tree, "link"), "sub/data.bin");
        string image = tmp["image.sqfs"];
        MkSquashFs(tree, image, options);
        return (tree, image);
    }

    /// <summary>mksquashfs SOURCE IMAGE with our usual quiet flags plus <paramref name="options"/>.</summary>
    public static void MkSquashFs(string source, string image, params string[] options)
    {
        TestEnv.RequireTool("mksquashfs");
        TestEnv.Run(TestEnv.FindTool("mksquashfs")!, [source, image, "-noappend", "-no-progress", "-quiet", .. options]).EnsureSuccess("mksquashfs");
    }

    /// <summary>Asserts exit 2 with one "xar: ..." line on stderr and no stack trace (nor an unhandled exception).</summary>
    public static void AssertBadInput(ProcessResult r, string? contains = null)
    {
        Assert.True(r.ExitCode == 2, $"exit {r.ExitCode}, stderr: {r.StandardError}");
        string err = r.StandardError.TrimEnd('\n');
        Assert.StartsWith("xar: ", err);
        Assert.DoesNotContain('\n', err);
        Assert.DoesNotContain("   at ", err);
        Assert.DoesNotContain("Unhandled exception", err);
        if (contains is not null)
            Assert.Contains(contains, err);
    }
}
