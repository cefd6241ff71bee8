using System.Diagnostics;
using System.Runtime.Versioning;
using Xar.Posix;
using Xar.Tests;

namespace Xar.Packer.Tests;

/// <summary>
/// `xar pack` stopped while it writes: by SIGTERM or SIGINT, exit 1 and "interrupted"; by SIGKILL, which it cannot
/// catch. Either way the output directory holds nothing afterwards (the image is written to an unnamed file).
/// </summary>
[SupportedOSPlatform("linux")]
public class PackInterruptTests
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
        var psi = new ProcessStartInfo(XarBinary.Path)
        {
            RedirectStandardError = true,
            RedirectStandardOutput = true,
            UseShellExecute = false,
        };
        foreach (string a in new[] { "pack", dir["src"], "-o", dir["out/app.xar"], "-c", "xz", "--level", "9", "-j", "1", "-q" })
            psi.ArgumentList.Add(a);
        using var p = Process.Start(psi)!;
        var stderr = p.StandardError.ReadToEndAsync();
        var deadline = Stopwatch.StartNew();
        while (!WritesInto(p.Id, dir["out"]) && !p.HasExited && deadline.Elapsed < TimeSpan.FromSeconds(60))
            Thread.Sleep(20);
        Assert.False(p.HasExited, "pack ended before the signal: " + (p.HasExited ? await stderr : ""));
        Thread.Sleep(300); // inside the data phase
        Assert.Equal(0, LibC.Kill(p.Id, signal));
        if (!p.WaitForExit(30_000))
        {
            p.Kill();
            Assert.Fail("pack did not stop within 30 s of the signal");
        }
        if (signal == SIGKILL)
        {
            Assert.Equal(128 + SIGKILL, p.ExitCode);
        }
        else
        {
            Assert.Equal(1, p.ExitCode);
            Assert.Equal("xar: interrupted\n", await stderr);
        }
        Assert.Empty(Directory.GetFileSystemEntries(dir["out"]));
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
