namespace Xar.Tests;

/// <summary>
/// The `xar` program the tests run: $XAR_BIN/xar (set by `make test`), else the one built beside the
/// tests (projects that reference src/Packer), else the one built in src/Packer.
/// </summary>
public static class XarBinary
{
    public static string Path
    {
        get
        {
            string? bin = Environment.GetEnvironmentVariable("XAR_BIN");
            if (!string.IsNullOrEmpty(bin) && File.Exists(System.IO.Path.Combine(bin, "xar")))
                return System.IO.Path.Combine(bin, "xar");
            string beside = System.IO.Path.Combine(AppContext.BaseDirectory, "xar");
            if (File.Exists(beside))
                return beside;
            return System.IO.Path.Combine(TestEnv.RepoRoot, "src", "Packer", "bin", "Release", "net10.0", "xar");
        }
    }
}
