using System.Diagnostics;
using System.Runtime.Versioning;
using Xar.Posix;
using Xar.Tests;

namespace Xar.Packer.Tests;

/// <summary>
/// `xar pack` and `xar extract` stopped while they write: by SIGTERM or SIGINT, exit 1 and "interrupted"; `xar pack`
/// also by SIGKILL, which it cannot catch (the image is written to an unnamed file). Either way the output directory
/// holds nothing afterwards.
/// </summary>
[SupportedOSPlatform("linux")]
public class InterruptTests
{
    private const int SIGINT = 2;

    private const int SIGKILL = 9;

    [Theory]
    [InlineData(LibC.SIGTERM)]
    [InlineData(SIGINT)]
    [InlineData(SIGKILL)]
    public async Task ASignalWhilePackingLeavesNoTemporaryFile(int signal)
    {
        using var dir = new TempDir("pack-signal");
        Directory.CreateDirectory(dir["src"]);
        Directory.CreateDirectory(dir["out"]);
        // Random data at xz -9 on one thread: seconds of work, so the signal lands while the image is written.
        var data = new byte[64 << 20];
        new Random(9).NextBytes(data);
        File.WriteAllBytes(dir["src/big.bin"], data);
        var (status, stderr) = await RunUntilSignalled(["pack", dir["src"], "-o", dir["out/app.xar"], "-c", "xz", "--level", "9", "-j", "1", "-q"], dir["out"], signal);
        if (signal == SIGKILL)
        {
            Assert.Equal(128 + SIGKILL, status);
        }
        else
        {
            Assert.Equal(1, status);
            Assert.Equal("xar: interrupted\n", stderr);
        }
        Assert.Empty(Directory.GetFileSystemEntries(dir["out"]));
    }

    /// <summary>
    /// The partial tree of an interrupted extraction (its hidden temporary directory beside the destination) is removed.
    /// Before, extract had no handler: the signal ended it at once and the temporary directory stayed.
    /// </summary>
    [Fact]
    public async Task ASignalWhileExtractingLeavesNothing()
    {
        using var dir = new TempDir("extract-signal");
        // 40,000 small files: seconds of file creation on one thread, so the signal lands mid-way.
        for (int d = 0; d < 200; d++)
        {
            Directory.CreateDirectory(dir[$"src/d{d}"]);
            for (int f = 0; f < 200; f++)
                File.WriteAllText(dir[$"src/d{d}/f{f}"], $"{d} {f}\n");
        }
        XarCli.Run("pack", dir["src"], "-o", dir["app.xar"], "-q").EnsureSuccess("xar pack");
        foreach (int signal in (int[])[LibC.SIGTERM, SIGINT])
        {
            Directory.CreateDirectory(dir["out"]);
            var (status, stderr) = await RunUntilSignalled(["extract", dir["app.xar"], "-o", dir["out/tree"], "-j", "1", "-q"], dir["out"], signal);
            Assert.Equal(1, status);
            Assert.Equal($"xar: {dir["app.xar"]}: interrupted\n", stderr);
            Assert.Empty(Directory.GetFileSystemEntries(dir["out"]));
            Directory.Delete(dir["out"]);
        }
    }

    /// <summary>
    /// Runs xar with <paramref name="arguments"/>, sends <paramref name="signal"/> once it has a file open in
    /// <paramref name="directory"/> (and 300 ms more of work), and returns its exit status and stderr.
    /// </summary>
    private static async Task<(int Status, string Stderr)> RunUntilSignalled(string[] arguments, string directory, int signal)
    {
        var psi = new ProcessStartInfo(XarBinary.Path)
        {
            RedirectStandardError = true,
            RedirectStandardOutput = true,
            UseShellExecute = false,
        };
        foreach (string a in arguments)
            psi.ArgumentList.Add(a);
        using var p = Process.Start(psi)!;
        var stderr = p.StandardError.ReadToEndAsync();
        var deadline = Stopwatch.StartNew();
        while (!WritesInto(p.Id, directory) && !p.HasExited && deadline.Elapsed < TimeSpan.FromSeconds(60))
            Thread.Sleep(20);
        Assert.False(p.HasExited, $"xar {arguments[0]} ended before the signal: " + (p.HasExited ? await stderr : ""));
        Thread.Sleep(300); // inside the data phase
        Assert.Equal(0, LibC.Kill(p.Id, signal));
        if (!p.WaitForExit(30_000))
        {
            p.Kill();
            Assert.Fail($"xar {arguments[0]} did not stop within 30 s of the signal");
        }
        return (p.ExitCode, await stderr);
    }

    /// <summary>Whether the process has a file open in <paramref name="directory"/> (named or not: an unnamed file shows as DIR/#INODE).</summary>
    private static bool WritesInto(int pid, string directory)
    {
        try
        {
            foreach (string fd in Directory.GetFileSystemEntries($"/proc/{pid}/fd"))
                if (new FileInfo(fd).LinkTarget is { } target && target.StartsWith(directory + "/", StringComparison.Ordinal))
                    return true;
        }
        catch (IOException)
        {
        }
        catch (UnauthorizedAccessException)
        {
        }
        return false;
    }
}
