using Xar.Tests;

namespace Xar.Interop.Tests;

/// <summary>
/// A codec's system library missing (hidden in a private mount namespace by a bind mount of
/// /dev/null over it): one line naming the library and the package to install, and nothing written.
/// </summary>
[System.Runtime.Versioning.SupportedOSPlatform("linux")]
public class MissingCodecLibraryTests
{
    private static ProcessResult WithoutLibrary(string soname, string workingDirectory, string command)
    {
        TestEnv.RequireRoot();
        TestEnv.RequireTool("unshare");
        string library = TestEnv.Run("/bin/sh", "-c", $"/sbin/ldconfig -p | awk '$1 == \"{soname}\" {{ print $NF; exit }}'").StandardOutput.Trim();
        TestEnv.Require(library.Length > 0, $"needs {soname} installed (to hide it)");
        string real = TestEnv.Run("readlink", "-f", library).EnsureSuccess("readlink").StandardOutput.Trim();
        return TestEnv.Run(new RunOptions("unshare", ["-m", "/bin/sh", "-c", $"mount --bind /dev/null '{real}' && {command}"])
        {
            WorkingDirectory = workingDirectory,
        });
    }

    [SkippableFact]
    public void PackingGzipWithoutLibdeflateSaysWhatToInstall()
    {
        string xar = ReaderCli.XarPath;
        using var dir = new TempDir("nocodec-pack");
        Directory.CreateDirectory(dir["src"]);
        File.WriteAllText(dir["src/f"], "data\n");
        var r = WithoutLibrary("libdeflate.so.0", dir.Path, $"'{xar}' pack src -o out.xar -c gzip --quiet");
        Assert.Equal(1, r.ExitCode);
        Assert.Equal("xar: writing gzip images needs the system library libdeflate.so.0, which is not installed (Debian: apt-get install libdeflate0)\n", r.StandardError);
        Assert.Equal(["src"], Directory.GetFileSystemEntries(dir.Path).Select(Path.GetFileName));
    }

    [SkippableFact]
    public void ReadingZstdWithoutLibzstdSaysWhatToInstall()
    {
        string xar = ReaderCli.XarPath;
        using var dir = new TempDir("nocodec-read");
        Directory.CreateDirectory(dir["src"]);
        File.WriteAllText(dir["src/f"], "data\n");
        TestEnv.Run(xar, "pack", dir["src"], "-o", dir["app.xar"], "-c", "zstd", "--quiet").EnsureSuccess("xar pack");
        var r = WithoutLibrary("libzstd.so.1", dir.Path, $"'{xar}' extract app.xar -o out");
        Assert.Equal(1, r.ExitCode);
        Assert.Contains("reading zstd images needs the system library libzstd.so.1, which is not installed (Debian: apt-get install libzstd1)", r.StandardError);
        Assert.Single(r.StandardError.TrimEnd('\n').Split('\n'));
        Assert.False(Path.Exists(dir["out"]));
    }

    /// <summary>
    /// xarexec links every codec it reads in (zstd, xz, lz4 in SelfContainedTests; lzo here), so with liblzo2 hidden it
    /// still extracts and runs an lzo image, while `xar`, which loads the system libraries, says what to install.
    /// </summary>
    [SkippableFact]
    public void LauncherReadsLzoWithoutLiblzoAndXarSaysWhatToInstall()
    {
        string? bin = Environment.GetEnvironmentVariable("XAR_BIN");
        TestEnv.Require(bin is not null && File.Exists(Path.Combine(bin, "xarexec")), "needs XAR_BIN with xarexec (make test)");
        using var dir = new TempDir("nocodec-launch");
        Directory.CreateDirectory(dir["src"]);
        File.WriteAllText(dir["src/run"], "#!/bin/sh\necho ran\n");
        File.SetUnixFileMode(dir["src/run"], (UnixFileMode)0x1ED);
        File.WriteAllText(dir["src/data"], string.Concat(Enumerable.Repeat("lzo compresses this ", 20_000)));
        TestEnv.RequireTool("mksquashfs");
        TestEnv.Run(TestEnv.FindTool("mksquashfs")!, dir["src"], dir["image"], "-comp", "lzo", "-noappend", "-quiet", "-no-progress").EnsureSuccess("mksquashfs");
        File.WriteAllBytes(dir["app.xar"], [.. new Xar.Runtime.XarHeader("0123456789abcdef", "1", "run").ToBytes(), .. File.ReadAllBytes(dir["image"])]);
        string cache = dir["cache"];
        var r = WithoutLibrary("liblzo2.so.2", dir.Path,
            $"XAR_EXTRACT=1 XAR_CACHE_DIR='{cache}' '{Path.Combine(bin!, "xarexec")}' app.xar || exit $?; cmp src/data {cache}/0123456789abcdef/data || exit 9; '{Path.Combine(bin!, "xar")}' cat app.xar data");
        Assert.Equal(1, r.ExitCode);
        Assert.Equal("ran\n", r.StandardOutput);
        Assert.EndsWith("xar: app.xar: reading lzo images needs the system library liblzo2.so.2, which is not installed (Debian: apt-get install liblzo2-2)\n", r.StandardError);
        // Only xar's: the launcher needed no library.
        Assert.Single(System.Text.RegularExpressions.Regex.Matches(r.StandardError, "needs the system library"));
    }
}
