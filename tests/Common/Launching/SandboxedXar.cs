namespace Xar.Tests;

/// <summary>
/// Runs `xar` inside a <see cref="LauncherSandbox"/> (its own mount root and cache), as the tests of
/// `xar run`, `mount`, `unmount` and `gc` do, and the launcher's tests that compare xarexec with `xar run`.
/// </summary>
internal static class SandboxedXar
{
    /// <summary>What mounting needs: root, FUSE with squashfuse, and mksquashfs for <see cref="TestXar"/>.</summary>
    public static void RequireMounting()
    {
        TestEnv.RequireRoot();
        TestEnv.RequireFuse();
        TestEnv.RequireTool("mksquashfs");
    }

    /// <summary>`xar ARGS` in the sandbox's work folder, with <paramref name="env"/> (default: the sandbox's) and xarexec on PATH.</summary>
    public static ProcessResult Run(LauncherSandbox s, Dictionary<string, string?>? env, params string[] args)
    {
        var environment = env ?? s.Environment();
        environment["PATH"] = Path.GetDirectoryName(LauncherBinary.Path) + ":" + Environment.GetEnvironmentVariable("PATH");
        return TestEnv.Run(new RunOptions(XarBinary.Path, args) { Environment = environment, WorkingDirectory = s.Work });
    }
}
