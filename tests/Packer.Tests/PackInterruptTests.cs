using System.Diagnostics;
using System.Runtime.Versioning;
using Xar.Posix;
using Xar.Tests;

namespace Xar.Packer.Tests;

/// <summary>`xar pack` stopped by SIGTERM or SIGINT while it writes: exit 1, "interrupted", and no temporary file left.</summary>
[SupportedOSPlatform("linux")]
public class PackInterruptTests
{
    private const int SIGINT = 2;

    [Theory]
    [InlineData(LibC.SIGTERM)]
    [InlineData(SIGINT)]
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
        while (Directory.GetFiles(dir["out"], "*.tmp").Length == 0 && !p.HasExited && deadline.Elapsed < TimeSpan.FromSeconds(60))
            Thread.Sleep(20);
        Assert.False(p.HasExited, "pack ended before the signal: " + (p.HasExited ? await stderr : ""));
        Thread.Sleep(300); // inside the data phase
        Assert.Equal(0, LibC.Kill(p.Id, signal));
        if (!p.WaitForExit(30_000))
        {
            p.Kill();
            Assert.Fail("pack did not stop within 30 s of the signal");
        }
        Assert.Equal(1, p.ExitCode);
        Assert.Equal("xar: interrupted\n", await stderr);
        Assert.Empty(Directory.GetFileSystemEntries(dir["out"]));
    }
}
