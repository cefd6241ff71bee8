using Xar.Tests;

namespace Xar.Launcher.Tests;

/// <summary>
/// The three ways a XAR runs: mounted (by the built-in FUSE server), extracted because XAR_EXTRACT=1, extracted
/// because FUSE cannot serve (XAR_FUSE=squashfuse, and squashfuse is not on PATH).
/// </summary>
public enum LaunchMode
{
    Mount,
    ForcedExtract,
    NoSquashfuse,
}

internal static class LaunchModes
{
    public static void Require(LaunchMode mode)
    {
        TestEnv.RequireTool("mksquashfs");
        if (mode == LaunchMode.Mount)
        {
            TestEnv.RequireRoot();
            TestEnv.RequireFuse();
        }
    }

    /// <summary>Extra environment for the mode: XAR_EXTRACT=1, or a PATH holding only the tools the test programs use.</summary>
    public static Dictionary<string, string?> Environment(LaunchMode mode, LauncherSandbox s)
    {
        var env = s.Environment(extract: mode == LaunchMode.ForcedExtract);
        if (mode == LaunchMode.NoSquashfuse)
        {
            env["XAR_FUSE"] = "squashfuse";
            env["PATH"] = ToolsWithoutSquashfuse(s);
        }
        return env;
    }

    private static string ToolsWithoutSquashfuse(LauncherSandbox s)
    {
        string bin = s["bin-no-squashfuse"];
        if (!Directory.Exists(bin))
        {
            Directory.CreateDirectory(bin);
            foreach (string tool in (string[])["cat", "dirname", "sleep", "env", "python3", "ls", "kill"])
                if (TestEnv.FindTool(tool) is { } path)
                    File.CreateSymbolicLink(Path.Combine(bin, tool), path);
        }
        return bin;
    }

    /// <summary>Where the program's files are for this mode: the one mount, or the cache entry.</summary>
    public static string ExpectedRoot(LaunchMode mode, LauncherSandbox s, string uuid) =>
        mode == LaunchMode.Mount ? Assert.Single(s.Mounts()) : Path.Combine(s.CacheDir, uuid);
}
