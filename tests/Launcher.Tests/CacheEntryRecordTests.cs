using Xar.Tests;

namespace Xar.Launcher.Tests;

/// <summary>
/// A cache entry records the image it was extracted from and the files known to hold it: another file with the
/// same UUID runs from the entry only when its image is the same, and is listed then; another image is refused.
/// </summary>
public class CacheEntryRecordTests
{
    private static Dictionary<string, string?> Extract(LauncherSandbox s) => s.Environment(extract: true);

    private static string[] RecordLines(LauncherSandbox s, string uuid) =>
        File.ReadAllLines(Path.Combine(s.CacheDir, "lockfile." + uuid));

    [SkippableFact]
    public void ExtractionRecordsTheImageAndTheFile()
    {
        TestEnv.RequireTool("mksquashfs");
        using var s = new LauncherSandbox();
        string uuid = TestXar.NewUuid();
        string xar = TestXar.Build(s.AppTree, s["app.xar"], uuid);
        LaunchAssert.Succeeded(s.Run(xar, [], Extract(s)));
        var lines = RecordLines(s, uuid);
        Assert.Equal(3, lines.Length);
        Assert.Equal(xar, lines[0]);
        Assert.Matches("^image xxh128:[0-9a-f]{32}$", lines[1]);
        var st = new FileInfo(xar);
        Assert.Matches($@"^file \d+:\d+ \d+ {st.Length} \d+\.\d+ \d+\.\d+$", lines[2]);
        // A second run from the same file goes straight on: nothing added.
        LaunchAssert.Succeeded(s.Run(xar, [], Extract(s)));
        Assert.Equal(lines, RecordLines(s, uuid));
    }

    [SkippableFact]
    public void ACopyOfTheFileRunsFromTheEntryAndIsListedOnce()
    {
        TestEnv.RequireTool("mksquashfs");
        using var s = new LauncherSandbox();
        string uuid = TestXar.NewUuid();
        string xar = TestXar.Build(s.AppTree, s["app.xar"], uuid);
        LaunchAssert.Succeeded(s.Run(xar, [], Extract(s)));
        string copy = s["copy.xar"];
        File.Copy(xar, copy);
        var r = s.Run(copy, ["x"], Extract(s));
        LaunchAssert.Succeeded(r);
        Assert.StartsWith("[x]\n", r.StandardOutput);
        Assert.Equal("", r.StandardError); // not extracted again
        Assert.Equal(4, RecordLines(s, uuid).Length);
        LaunchAssert.Succeeded(s.Run(copy, [], Extract(s)));
        Assert.Equal(4, RecordLines(s, uuid).Length);
    }

    [SkippableFact]
    public void AnotherImageUnderTheSameUuidIsRefusedNotRun()
    {
        TestEnv.RequireTool("mksquashfs");
        using var s = new LauncherSandbox();
        string uuid = TestXar.NewUuid();
        string v1 = TestXar.Build(s.AppTree, s["v1.xar"], uuid);
        LaunchAssert.Succeeded(s.Run(v1, [], Extract(s)));
        // v2: the same UUID (as a file rewritten in place, or a tool that reuses UUIDs), another program.
        string tree = s["v2"];
        Directory.CreateDirectory(tree);
        TestXar.WriteExecutable(Path.Combine(tree, TestXar.BootstrapName), TestXar.Bootstrap("run"));
        TestXar.WriteExecutable(Path.Combine(tree, "run"), "#!/bin/sh\necho v2 ran\n");
        string v2 = TestXar.Build(tree, s["v2.xar"], uuid);
        var r = s.Run(v2, [], Extract(s));
        Assert.Equal($"cache entry {Path.Combine(s.CacheDir, uuid)} holds another image with UUID {uuid} (extracted from {v1}): not run; `xar gc` removes it once unused",
            LaunchAssert.OneLineFailure(r, v2));
        Assert.Equal("", r.StandardOutput);
        Assert.Equal(3, RecordLines(s, uuid).Length); // v2 not listed
        // v1 itself still runs from its entry.
        LaunchAssert.Succeeded(s.Run(v1, ["again"], Extract(s)));
    }
}
