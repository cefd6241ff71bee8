using System.Text;
using Xar.Tests;

namespace Xar.Launcher.Tests;

/// <summary>What the program sees, the same whether the XAR is mounted or extracted.</summary>
public class ExecutionTests
{
    [SkippableTheory]
    [InlineData(LaunchMode.Mount)]
    [InlineData(LaunchMode.ForcedExtract)]
    [InlineData(LaunchMode.NoSquashfuse)]
    public void ArgumentsEnvironmentAndFilesReachTheProgram(LaunchMode mode)
    {
        LaunchModes.Require(mode);
        using var s = new LauncherSandbox();
        string uuid = TestXar.NewUuid();
        string xar = TestXar.Build(s.AppTree, s["app.xar"], uuid);
        string[] args = ["plain", "with space", "double\"quote", "single'quote", "", "$HOME", "*", "-m", "--", "new\nline", "ünïcödé"];
        var r = s.Run(xar, args, LaunchModes.Environment(mode, s));
        LaunchAssert.Succeeded(r);
        Assert.StartsWith(string.Concat(args.Select(a => $"[{a}]\n")), r.StandardOutput);
        string root = LaunchModes.ExpectedRoot(mode, s, uuid);
        Assert.Contains($"XAR_PATH={xar}\n", r.StandardOutput);
        Assert.Contains($"XAR_MOUNT={root}\n", r.StandardOutput);
        Assert.Contains(mode == LaunchMode.Mount ? "NEW_MOUNT=1\n" : "NEW_MOUNT=\n", r.StandardOutput);
        Assert.EndsWith(TestXar.Payload, r.StandardOutput);
        if (mode == LaunchMode.Mount)
            Assert.Equal("", r.StandardError);
        else
        {
            // One line says why extraction was used, only when extracting.
            string why = mode == LaunchMode.ForcedExtract ? "XAR_EXTRACT=1" : "neither squashfuse_ll nor squashfuse is on PATH";
            Assert.Equal($"xarexec: {xar}: {why}: extracted once into {root}\n", r.StandardError);
            Assert.Empty(s.Mounts());
            var again = s.Run(xar, ["again"], LaunchModes.Environment(mode, s));
            LaunchAssert.Succeeded(again);
            Assert.StartsWith("[again]\n", again.StandardOutput);
            Assert.Equal("", again.StandardError);
        }
    }

    /// <summary>
    /// Bytes that are not UTF-8 (a Latin-1 name) reach the program unchanged, on the first run
    /// (which mounts or extracts) and on the next (which reuses): .NET's string arguments would
    /// have replaced them.
    /// </summary>
    [SkippableTheory]
    [InlineData(LaunchMode.Mount)]
    [InlineData(LaunchMode.ForcedExtract)]
    [InlineData(LaunchMode.NoSquashfuse)]
    public void ArgumentsThatAreNotUtf8ReachTheProgramByteForByte(LaunchMode mode)
    {
        LaunchModes.Require(mode);
        using var s = new LauncherSandbox();
        string xar = TestXar.Build(s.AppTree, s["app.xar"]);
        var env = LaunchModes.Environment(mode, s);
        env["LAUNCHER"] = LauncherBinary.Path;
        env["XAR"] = xar;
        // The program prints "[caf\xe9 \xff]\n[plain]\n" first: 17 bytes.
        const string script = "\"$LAUNCHER\" \"$XAR\" \"$(printf 'caf\\351 \\377')\" plain | /usr/bin/head -c 17 | /usr/bin/od -An -tx1";
        for (int run = 0; run < 2; run++)
        {
            var r = TestEnv.Run(new RunOptions("/bin/sh", ["-c", script]) { Environment = env, WorkingDirectory = s.Work });
            LaunchAssert.Succeeded(r);
            Assert.Equal("5b636166e920ff5d0a5b706c61696e5d0a", string.Concat(r.StandardOutput.Where(char.IsAsciiHexDigit)));
        }
    }

    [SkippableTheory]
    [InlineData(LaunchMode.Mount)]
    [InlineData(LaunchMode.ForcedExtract)]
    [InlineData(LaunchMode.NoSquashfuse)]
    public void StandardInputReachesTheProgram(LaunchMode mode)
    {
        LaunchModes.Require(mode);
        using var s = new LauncherSandbox();
        string xar = TestXar.Build(s.AppTree, s["app.xar"]);
        var env = LaunchModes.Environment(mode, s);
        env["XAR_TEST_STDIN"] = "1";
        var r = s.Run(xar, [], env, Encoding.UTF8.GetBytes("hello from stdin"));
        LaunchAssert.Succeeded(r);
        Assert.Contains("STDIN=hello from stdin\n", r.StandardOutput);
    }

    [SkippableTheory]
    [InlineData(LaunchMode.Mount, 0)]
    [InlineData(LaunchMode.Mount, 3)]
    [InlineData(LaunchMode.Mount, 130)]
    [InlineData(LaunchMode.ForcedExtract, 0)]
    [InlineData(LaunchMode.ForcedExtract, 3)]
    [InlineData(LaunchMode.ForcedExtract, 130)]
    [InlineData(LaunchMode.NoSquashfuse, 3)]
    [InlineData(LaunchMode.NoSquashfuse, 130)]
    public void ExitStatusPassesThrough(LaunchMode mode, int code)
    {
        LaunchModes.Require(mode);
        using var s = new LauncherSandbox();
        string xar = TestXar.Build(s.AppTree, s["app.xar"]);
        var env = LaunchModes.Environment(mode, s);
        env["XAR_TEST_EXIT"] = code.ToString();
        var r = s.Run(xar, [], env);
        Assert.Equal(code, r.ExitCode);
    }

    [SkippableTheory]
    [InlineData(LaunchMode.Mount)]
    [InlineData(LaunchMode.ForcedExtract)]
    public void UmaskOfTheCallerIsRestored(LaunchMode mode)
    {
        LaunchModes.Require(mode);
        using var s = new LauncherSandbox();
        string xar = TestXar.Build(s.AppTree, s["app.xar"]);
        var r = TestEnv.Run(new RunOptions("/bin/sh", ["-c", "umask 0077; exec \"$0\" \"$1\"", LauncherBinary.Path, xar]) { Environment = LaunchModes.Environment(mode, s) });
        LaunchAssert.Succeeded(r);
        Assert.Contains("UMASK=0077\n", r.StandardOutput);
    }

    [SkippableTheory]
    [InlineData(LaunchMode.Mount)]
    [InlineData(LaunchMode.ForcedExtract)]
    public void ASignalEndsTheProgramAsIfRunDirectly(LaunchMode mode)
    {
        LaunchModes.Require(mode);
        using var s = new LauncherSandbox();
        // The program kills itself with SIGTERM: the caller must see the signal, not an exit code.
        string tree = s["killer"];
        Directory.CreateDirectory(tree);
        TestXar.WriteExecutable(Path.Combine(tree, "run.sh"), "kill -TERM $$\nsleep 5\n");
        string xar = TestXar.Build(tree, s["killer.xar"], execTarget: "run.sh");
        var r = TestEnv.Run(new RunOptions("/bin/sh", ["-c", "\"$0\" \"$1\"; echo status=$?", LauncherBinary.Path, xar]) { Environment = LaunchModes.Environment(mode, s) });
        Assert.Contains("status=143", r.StandardOutput);
    }
}
