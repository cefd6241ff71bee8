using Xar.Tests;

namespace Xar.Interop.Tests;

/// <summary>Runs the `xar` program (XAR_BIN from `make test`, else the copy built beside the tests).</summary>
internal static class ReaderCli
{
    public static string XarPath
    {
        get
        {
            string? bin = Environment.GetEnvironmentVariable("XAR_BIN");
            if (!string.IsNullOrEmpty(bin) && File.Exists(Path.Combine(bin, "xar")))
                return Path.Combine(bin, "xar");
            return Path.Combine(AppContext.BaseDirectory, "xar");
        }
    }

    public static ProcessResult Run(params string[] args) => TestEnv.Run(XarPath, args);

    /// <summary>mksquashfs SOURCE IMAGE with our usual quiet flags plus <paramref name="options"/>.</summary>
    public static void MkSquashFs(string source, string image, params string[] options)
    {
        TestEnv.RequireTool("mksquashfs");
        var r = TestEnv.Run(new RunOptions(TestEnv.FindTool("mksquashfs")!, [source, image, "-noappend", "-no-progress", "-quiet", .. options]) { TimeoutMs = 600_000 });
        r.EnsureSuccess("mksquashfs " + string.Join(' ', options));
    }

    /// <summary>The peer's view of an image that the comparison uses: the kernel as root, else unsquashfs.</summary>
    public static string[] PeerVia => TestEnv.IsRoot ? ["--via-a", "kernel"] : ["--via-a", "unsquashfs"];
}
