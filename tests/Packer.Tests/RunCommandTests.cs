using Xar.Tests;

namespace Xar.Packer.Tests;

/// <summary>`xar run FILE ARGS`: the launch core with every argument as given, options and bytes that are not UTF-8 included.</summary>
[Collection(SandboxedXarCollection.Name)]
public class RunCommandTests
{
    [SkippableFact]
    public void RunPassesEveryArgumentThroughIncludingOptions()
    {
        SandboxedXar.RequireMounting();
        using var s = new LauncherSandbox();
        string xar = TestXar.Build(s.AppTree, s["app.xar"]);
        var env = s.Environment();
        env["XAR_TEST_EXIT"] = "3";
        var r = SandboxedXar.Run(s, env, "run", xar, "--help", "-o", "a b");
        Assert.Equal(3, r.ExitCode);
        Assert.StartsWith("[--help]\n[-o]\n[a b]\n", r.StandardOutput);
    }

    [SkippableFact]
    public void RunPassesArgumentsThatAreNotUtf8ByteForByte()
    {
        SandboxedXar.RequireMounting();
        using var s = new LauncherSandbox();
        string xar = TestXar.Build(s.AppTree, s["app.xar"]);
        var env = s.Environment();
        env["PATH"] = Path.GetDirectoryName(LauncherBinary.Path) + ":" + Environment.GetEnvironmentVariable("PATH");
        env["XARBIN"] = XarBinary.Path;
        env["XAR"] = xar;
        // The program prints "[caf\xe9 \xff]\n[-o]\n" first: 14 bytes.
        var r = TestEnv.Run(new RunOptions("/bin/sh", ["-c", "\"$XARBIN\" run \"$XAR\" \"$(printf 'caf\\351 \\377')\" -o | head -c 14 | od -An -tx1"])
        {
            Environment = env,
            WorkingDirectory = s.Work,
        });
        LaunchAssert.Succeeded(r);
        Assert.Equal("5b636166e920ff5d0a5b2d6f5d0a", string.Concat(r.StandardOutput.Where(char.IsAsciiHexDigit)));
    }

    [SkippableFact]
    public void RunOfAMissingFileIsBadInput()
    {
        using var s = new LauncherSandbox();
        var r = SandboxedXar.Run(s, null, "run", s["missing.xar"], "x");
        Assert.Equal(2, r.ExitCode);
        Assert.Equal($"xar: {s["missing.xar"]}: no such file\n", r.StandardError);
    }
}
