using System.Buffers.Binary;
using System.Security.Cryptography;
using Xar.Runtime;
using Xar.Tests;

namespace Xar.Packer.Tests;

public class VerifyCommandTests
{
    [SkippableFact]
    public void GoodImagesVerifyAndHashUuidsAreChecked()
    {
        using var tmp = new TempDir("verify");
        var (_, image) = XarCli.Make(tmp, "-comp", "xz");
        var r = XarCli.Run("verify", image).EnsureSuccess("verify");
        Assert.Contains(": OK:", r.StandardOutput);

        byte[] bytes = File.ReadAllBytes(image);
        string uuid = Convert.ToHexStringLower(SHA256.HashData(bytes))[..16];
        string xar = tmp["good.xar"];
        File.WriteAllBytes(xar, [.. new XarHeader(uuid, "1").ToBytes(), .. bytes]);
        Assert.Contains("UUID matches the image hash", XarCli.Run("verify", xar).EnsureSuccess("verify xar").StandardOutput);
        string other = tmp["other.xar"];
        File.WriteAllBytes(other, [.. new XarHeader("0123456789abcdef", "1").ToBytes(), .. bytes]);
        Assert.Contains("not the image hash", XarCli.Run("verify", other).EnsureSuccess("verify other").StandardOutput);
    }

    /// <summary>A few hundred mutated images through the program: exit 0, or exit 2 with one line.</summary>
    [SkippableFact]
    public void MutatedImagesExitZeroOrTwoWithOneLine()
    {
        using var tmp = new TempDir("verify-fuzz");
        var (_, image) = XarCli.Make(tmp, "-b", "4K", "-noI", "-noD");
        byte[] original = File.ReadAllBytes(image);
        var rng = new Random(11);
        int bad = 0;
        const int Cases = 240;
        for (int i = 0; i < Cases; i++)
        {
            byte[] b = (byte[])original.Clone();
            switch (i % 3)
            {
                case 0:
                    b = b[..rng.Next(b.Length)];
                    break;
                case 1:
                    for (int k = 0; k < 4; k++)
                        b[96 + rng.Next(b.Length - 96)] ^= (byte)(1 << rng.Next(8));
                    break;
                default:
                    BinaryPrimitives.WriteUInt64LittleEndian(b.AsSpan(32 + 8 * rng.Next(8)), (ulong)rng.NextInt64(0, b.Length * 2L));
                    break;
            }
            string path = tmp[$"m{i}.sqfs"];
            File.WriteAllBytes(path, b);
            string command = i % 4 == 0 ? "extract" : "verify";
            var r = command == "extract"
                ? XarCli.Run("extract", path, "-o", tmp[$"out{i}"])
                : XarCli.Run("verify", "-q", path);
            if (r.ExitCode == 0)
                continue;
            bad++;
            XarCli.AssertBadInput(r, path);
            Assert.False(Directory.Exists(tmp[$"out{i}"]));
            File.Delete(path);
        }
        Assert.True(bad > Cases / 3, $"only {bad} of {Cases} mutations were reported");
        Assert.Empty(Directory.GetDirectories(tmp.Path, ".*"));
    }
}
