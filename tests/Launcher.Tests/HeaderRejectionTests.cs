using System.Text;
using Xar.Tests;

namespace Xar.Launcher.Tests;

/// <summary>
/// Every header Facebook's parser (XarParser.cpp) rejects, and the launcher's own XAREXEC_TARGET
/// rules: each one line <c>xarexec: FILE: cause</c>, exit 127, its own cause, nothing mounted.
/// </summary>
public class HeaderRejectionTests
{
    private const string Stop = "#xar_stop\necho This XAR file should not be executed by sh\nexit 1\n";

    private static byte[] Xar(string headerText, int offset = 4096, bool magic = true, int imageBytes = 64)
    {
        var bytes = new byte[Math.Max(offset + imageBytes, Encoding.UTF8.GetByteCount(headerText))];
        Array.Fill(bytes, (byte)'\n', 0, Math.Min(offset, bytes.Length));
        Encoding.UTF8.GetBytes(headerText).CopyTo(bytes, 0);
        if (magic && offset + 4 <= bytes.Length)
            "hsqs"u8.CopyTo(bytes.AsSpan(offset));
        return bytes;
    }

    private const string Good = "#!/usr/bin/env xarexec_fuse\nOFFSET=\"4096\"\nUUID=\"d770950c\"\nVERSION=\"1\"\nXAREXEC_TARGET=\"run.sh\"\n";

    // Valid lines filling the whole 8196 bytes a parser looks at (Good is 94 bytes; 2 x 4051 more).
    private static readonly string NoStopFiller = $"P=\"{new string('x', 4046)}\"\nQ=\"{new string('y', 4046)}\"\n";

    public static TheoryData<string, byte[], string> Cases => new()
    {
        { "empty", [], "empty file" },
        { "elf", [0x7f, (byte)'E', (byte)'L', (byte)'F', 2, 1, 1, 0, .. new byte[5000]], "not a XAR file" },
        { "shebang", Xar("#!/bin/sh\nOFFSET=\"4096\"\nUUID=\"d770950c\"\nVERSION=\"1\"\n" + Stop), "not a XAR file" },
        { "only-shebang", Encoding.ASCII.GetBytes("#!/usr/bin/env xarexec_fuse\n"), "ends after the shebang" },
        { "offset-not-second", Xar("#!/usr/bin/env xarexec_fuse\nUUID=\"d770950c\"\nOFFSET=\"4096\"\nVERSION=\"1\"\n" + Stop), "line 2 must be OFFSET" },
        { "offset-text", Xar("#!/usr/bin/env xarexec_fuse\nOFFSET=\"40x6\"\nUUID=\"d770950c\"\nVERSION=\"1\"\n" + Stop), "not an unsigned integer" },
        { "offset-unaligned", Xar("#!/usr/bin/env xarexec_fuse\nOFFSET=\"1000\"\nUUID=\"d770950c\"\nVERSION=\"1\"\n" + Stop, 1000), "not a positive multiple" },
        { "offset-too-big", Xar("#!/usr/bin/env xarexec_fuse\nOFFSET=\"12288\"\nUUID=\"d770950c\"\nVERSION=\"1\"\n" + Stop, 12288), "greater than the largest header" },
        { "unquoted", Xar(Good + "NAME=value\n" + Stop), "not NAME=\"value\"" },
        { "duplicate", Xar(Good + "UUID=\"aa\"\n" + Stop), "assigned more than once" },
        { "no-stop", Xar(Good + NoStopFiller, 12288), "no \"#xar_stop\" line" },
        { "no-uuid", Xar("#!/usr/bin/env xarexec_fuse\nOFFSET=\"4096\"\nVERSION=\"1\"\n" + Stop), "missing required header values: UUID" },
        { "no-version", Xar("#!/usr/bin/env xarexec_fuse\nOFFSET=\"4096\"\nUUID=\"d770950c\"\n" + Stop), "missing required header values: VERSION" },
        { "uuid-not-hex", Xar("#!/usr/bin/env xarexec_fuse\nOFFSET=\"4096\"\nUUID=\"../../x\"\nVERSION=\"1\"\n" + Stop), "UUID must be" },
        { "trampoline", Xar(Good + "XAREXEC_TRAMPOLINE_NAMES=\"'a' 'b'\"\n" + Stop), "lacks the required name" },
        { "no-magic", Xar(Good + Stop, magic: false), "no SquashFS magic" },
        { "truncated", Xar(Good + Stop, imageBytes: 0)[..2000], "ends before OFFSET" },
        { "no-target", Xar("#!/usr/bin/env xarexec_fuse\nOFFSET=\"4096\"\nUUID=\"d770950c\"\nVERSION=\"1\"\n" + Stop), "no XAREXEC_TARGET" },
        { "target-escapes", Xar("#!/usr/bin/env xarexec_fuse\nOFFSET=\"4096\"\nUUID=\"d770950c\"\nVERSION=\"1\"\nXAREXEC_TARGET=\"../../bin/sh\"\n" + Stop), "must be a relative path inside the image" },
        { "target-absolute", Xar("#!/usr/bin/env xarexec_fuse\nOFFSET=\"4096\"\nUUID=\"d770950c\"\nVERSION=\"1\"\nXAREXEC_TARGET=\"/bin/sh\"\n" + Stop), "must be a relative path inside the image" },
    };

    [Theory]
    [MemberData(nameof(Cases))]
    public void IsRejectedWithItsOwnMessage(string name, byte[] content, string expected)
    {
        using var s = new LauncherSandbox();
        string file = s[name + ".xar"];
        File.WriteAllBytes(file, content);
        var r = s.Run(file, ["arg"]);
        string cause = LaunchAssert.OneLineFailure(r, file);
        Assert.Contains(expected, cause);
        Assert.Equal("", r.StandardOutput);
        Assert.Empty(s.Mounts());
        Assert.False(Directory.Exists(s.CacheDir) && Directory.EnumerateFileSystemEntries(s.CacheDir).Any(), "nothing may be written to the cache");
    }

    [Fact]
    public void EveryCaseHasADistinctMessage()
    {
        var expected = Cases.Select(c => (string)c[2]).ToList();
        // Two pairs of inputs break the same rule: the shebang, and a target outside the image.
        Assert.Equal(expected.Count - 2, expected.Distinct().Count());
    }

    [Fact]
    public void ADirectoryIsNotAXar()
    {
        using var s = new LauncherSandbox();
        var r = s.Run(s.Work, []);
        Assert.Contains("is a directory", LaunchAssert.OneLineFailure(r, s.Work));
    }

    [SkippableFact]
    public void ATargetThatIsADirectoryIsTheLaunchersError()
    {
        TestEnv.RequireTool("mksquashfs");
        using var s = new LauncherSandbox();
        string xar = TestXar.Build(s.AppTree, s["app.xar"], execTarget: ".");
        Assert.Equal(0, s.Run("-m", [xar], extract: true).ExitCode); // extracted; mounting runs nothing
        var r = s.Run(xar, [], extract: true);
        Assert.Contains("XAREXEC_TARGET . is a directory, not a program", LaunchAssert.OneLineFailure(r, xar));
        Assert.Equal("", r.StandardOutput);
    }

    /// <summary>
    /// A copy cut short (a broken download) of a XAR that is mounted or extracted ran what the mount or cache entry of
    /// the whole file holds (same UUID), with exit 0; unmounted it failed half-way through. Its image must be as long as
    /// its superblock says: refused before anything, in one line naming the sizes.
    /// </summary>
    [SkippableTheory]
    [InlineData(LaunchMode.Mount)]
    [InlineData(LaunchMode.ForcedExtract)]
    public void ACopyCutShortIsRefusedEvenWhileTheWholeFileIsInUse(LaunchMode mode)
    {
        LaunchModes.Require(mode);
        using var s = new LauncherSandbox();
        var data = new byte[200_000];
        new Random(3).NextBytes(data); // an image of some blocks, as they do not compress
        File.WriteAllBytes(Path.Combine(s.AppTree, "data.bin"), data);
        string xar = TestXar.Build(s.AppTree, s["app.xar"]);
        var env = LaunchModes.Environment(mode, s);
        LaunchAssert.Succeeded(s.Run(xar, ["whole"], env));
        int entries = mode == LaunchMode.Mount ? s.Mounts().Count : Directory.GetFileSystemEntries(s.CacheDir).Length;
        byte[] bytes = File.ReadAllBytes(xar);
        foreach (int length in (int[])[bytes.Length - 4096, 4096 + 200])
        {
            string cut = s[$"cut-{length}.xar"];
            File.WriteAllBytes(cut, bytes[..length]);
            var r = s.Run(cut, ["cut"], env);
            string cause = LaunchAssert.OneLineFailure(r, cut);
            Assert.StartsWith("is cut short: its image needs ", cause);
            Assert.EndsWith($"from byte 4096, and the file ends at byte {length} (a broken download or copy?); nothing run", cause);
            Assert.Equal("", r.StandardOutput);
        }
        Assert.Equal(entries, mode == LaunchMode.Mount ? s.Mounts().Count : Directory.GetFileSystemEntries(s.CacheDir).Length);
    }

    [Fact]
    public void FuzzedHeadersNeverCrashTheLauncher()
    {
        using var s = new LauncherSandbox();
        var baseline = Xar(Good + "DEPENDENCIES=\"\"\n" + Stop);
        var random = new Random(4);
        string file = s["fuzz.xar"];
        for (int i = 0; i < 40; i++)
        {
            var bytes = (byte[])baseline.Clone();
            int flips = random.Next(1, 6);
            for (int f = 0; f < flips; f++)
                bytes[random.Next(0, 200)] ^= (byte)(1 << random.Next(8));
            if (i % 5 == 0)
                bytes = bytes[..random.Next(0, 300)];
            File.WriteAllBytes(file, bytes);
            var r = s.Run(file, [], new Dictionary<string, string?> { ["PATH"] = "/nonexistent", ["XAR_EXTRACT"] = null });
            // Either a clean header error, or (when the flip left the header valid) a failure later on -
            // never a crash or a stack trace.
            Assert.Equal(127, r.ExitCode);
            Assert.StartsWith("xarexec: ", r.StandardError);
            Assert.Equal(1, r.StandardError.Count(c => c == '\n'));
        }
    }
}
