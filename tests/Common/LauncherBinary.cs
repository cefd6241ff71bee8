namespace Xar.Tests;

/// <summary>
/// The published NativeAOT xarexec the tests run: $XAR_BIN/xarexec (set by `make test`), else
/// published once per checkout into out/test-xarexec (under a lock, so test projects share it).
/// </summary>
[System.Runtime.Versioning.SupportedOSPlatform("linux")]
public static class LauncherBinary
{
    private static readonly Lazy<string> Published = new(Locate);

    public static string Path => Published.Value;

    private static string Locate()
    {
        string? bin = Environment.GetEnvironmentVariable("XAR_BIN");
        if (!string.IsNullOrEmpty(bin) && File.Exists(System.IO.Path.Combine(bin, "xarexec")))
            return System.IO.Path.Combine(bin, "xarexec");
        string outDir = System.IO.Path.Combine(TestEnv.RepoRoot, "out", "test-xarexec");
        Directory.CreateDirectory(outDir);
        using var gate = new FileStream(System.IO.Path.Combine(outDir, ".lock"), FileMode.OpenOrCreate, FileAccess.ReadWrite, FileShare.ReadWrite);
        gate.Lock(0, 1);
        try
        {
            string exe = System.IO.Path.Combine(outDir, "xarexec");
            var r = TestEnv.Run(new RunOptions("dotnet",
                ["publish", System.IO.Path.Combine(TestEnv.RepoRoot, "src", "Launcher", "Xar.Launcher.csproj"),
                 "-c", "Release", "-r", TestEnv.Rid, "-nologo", "-v", "q", "-o", outDir]) { TimeoutMs = 900_000 });
            r.EnsureSuccess("dotnet publish xarexec");
            return exe;
        }
        finally
        {
            gate.Unlock(0, 1);
        }
    }
}
