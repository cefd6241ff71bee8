using Xar.Tests;

namespace Xar.Launcher.Tests;

/// <summary>samples/hello and samples/pyapp, packed by `xar pack --exec` and run by the launcher, mounted and extracted.</summary>
public class SamplesTests
{
    private static string Pack(LauncherSandbox s, string sample, string exec)
    {
        string output = s[sample + ".xar"];
        TestEnv.Run(new RunOptions(XarBinary.Path, ["pack", Path.Combine(TestEnv.RepoRoot, "samples", sample), "-o", output, "--exec", exec, "--quiet"]))
            .EnsureSuccess("xar pack " + sample);
        return output;
    }

    [SkippableTheory]
    [InlineData(LaunchMode.Mount)]
    [InlineData(LaunchMode.ForcedExtract)]
    public void HelloRuns(LaunchMode mode)
    {
        LaunchModes.Require(mode);
        using var s = new LauncherSandbox();
        string xar = Pack(s, "hello", "hello");
        var r = s.Run(xar, ["one arg", "two"], LaunchModes.Environment(mode, s));
        LaunchAssert.Succeeded(r);
        string root = mode == LaunchMode.Mount ? Assert.Single(s.Mounts()) : Path.Combine(s.CacheDir, XarHeaderUuid(xar));
        Assert.Equal(
            "Hello from inside a XAR!\n" +
            $"running from: {root}\n" +
            $"archive:      {xar}\n" +
            "arguments:\n  [one arg]\n  [two]\n",
            r.StandardOutput);
    }

    [SkippableTheory]
    [InlineData(LaunchMode.Mount)]
    [InlineData(LaunchMode.ForcedExtract)]
    public void PyappImportsFromTheImage(LaunchMode mode)
    {
        LaunchModes.Require(mode);
        TestEnv.RequireTool("python3");
        using var s = new LauncherSandbox();
        string xar = Pack(s, "pyapp", "bin/pyapp");
        var r = s.Run(xar, ["--x"], LaunchModes.Environment(mode, s));
        LaunchAssert.Succeeded(r);
        string root = mode == LaunchMode.Mount ? Assert.Single(s.Mounts()) : Path.Combine(s.CacheDir, XarHeaderUuid(xar));
        Assert.StartsWith("pyapp: 57 words, 38 distinct; most common: the (6), a (4), image (4)\n", r.StandardOutput);
        Assert.Contains($"imported from: {root}/pyapp\n", r.StandardOutput);
        Assert.EndsWith("arguments: [--x]\n", r.StandardOutput);
    }

    /// <summary>
    /// With squashfuse gone from the machine (/dev/null bound over squashfuse and squashfuse_ll in a mount namespace
    /// of the test's own), both samples still run through a mount: the launcher's own FUSE server's (fuse.xar).
    /// </summary>
    [SkippableFact]
    public void BothSamplesRunMountedWithSquashfuseHidden()
    {
        LaunchModes.Require(LaunchMode.Mount);
        TestEnv.RequireTool("unshare");
        TestEnv.RequireTool("python3");
        using var s = new LauncherSandbox();
        string hello = Pack(s, "hello", "hello");
        string pyapp = Pack(s, "pyapp", "bin/pyapp");
        string script = """
            set -e
            if command -v squashfuse_ll >/dev/null && [ -f "$(command -v squashfuse_ll)" ] && [ -s "$(command -v squashfuse_ll)" ]; then echo "squashfuse_ll still there"; exit 1; fi
            "$LAUNCHER" "$HELLO" a
            "$LAUNCHER" "$PYAPP" b
            grep " $ROOT/" /proc/self/mounts | grep -c " fuse.xar "
            grep " $ROOT/" /proc/self/mounts | grep -c squashfuse || true
            """;
        var env = s.Environment();
        env["LAUNCHER"] = LauncherBinary.Path;
        env["HELLO"] = hello;
        env["PYAPP"] = pyapp;
        var r = new HiddenTools(s).Programs("squashfuse", "squashfuse_ll").Run(script, env);
        LaunchAssert.Succeeded(r);
        Assert.StartsWith("Hello from inside a XAR!\n", r.StandardOutput);
        Assert.Contains("pyapp: 57 words", r.StandardOutput);
        Assert.EndsWith("arguments: [b]\n2\n0\n", r.StandardOutput);
        Assert.Equal("", r.StandardError); // mounted: no word of extraction
    }

    private static string XarHeaderUuid(string xar) => Xar.Runtime.XarHeader.ReadFromFile(xar).Uuid;
}
