using Xar.Tests;

namespace Xar.Interop.Tests;

/// <summary>
/// `xar binfmt`: with the registration the kernel runs a XAR with xarexec directly, so it starts
/// even where /usr/bin/env would not find xarexec_fuse; without it, it goes through env again.
/// </summary>
[Collection("machine-wide")]
[System.Runtime.Versioning.SupportedOSPlatform("linux")]
public class BinfmtTests
{
    [SkippableFact]
    public void RegisteredXarsStartWithoutTheEnvHop()
    {
        TestEnv.RequireRoot();
        string? bin = Environment.GetEnvironmentVariable("XAR_BIN");
        TestEnv.Require(bin is not null && File.Exists(Path.Combine(bin, "xarexec")), "needs XAR_BIN with xar and xarexec (make test)");
        string xarexec = Path.Combine(bin!, "xarexec");
        string name = "xar-test-" + Environment.ProcessId;
        using var tmp = new TempDir("binfmt");
        Directory.CreateDirectory(tmp["tree"]);
        File.WriteAllText(tmp["tree/run"], "#!/bin/sh\necho \"ran with $*\"\n");
        File.SetUnixFileMode(tmp["tree/run"], (UnixFileMode)0x1ED);
        string xar = tmp["app.xar"];
        ReaderCli.Run("pack", tmp["tree"], "-o", xar, "--exec", "run", "--quiet").EnsureSuccess("xar pack");
        // No xarexec_fuse on this PATH: only a binfmt_misc registration can start the file.
        var env = new Dictionary<string, string?>
        {
            ["PATH"] = "/usr/sbin:/usr/bin:/sbin:/bin",
            ["XAR_EXTRACT"] = "1",
            ["XAR_CACHE_DIR"] = tmp["cache"],
        };
        ProcessResult RunXar() => TestEnv.Run(new RunOptions(xar, ["a b"]) { Environment = env });

        var before = RunXar();
        Assert.Equal(127, before.ExitCode); // env: 'xarexec_fuse': No such file or directory
        // install creates /etc/binfmt.d where the machine has none; the test takes it away again.
        bool hadConfigDirectory = Directory.Exists("/etc/binfmt.d");
        try
        {
            var install = ReaderCli.Run("binfmt", "install", "--name", name, "--launcher", xarexec);
            Assert.True(install.ExitCode == 0, install.StandardError);
            string persistent = $"/etc/binfmt.d/{name}.conf";
            Assert.Contains($":{name}:M::#!/usr/bin/env xarexec_fuse\\x0a::{xarexec}:\n", File.ReadAllText(persistent));
            var status = ReaderCli.Run("binfmt", "status", "--name", name);
            Assert.Equal(0, status.ExitCode);
            Assert.Equal($"{name}: enabled, interpreter {xarexec}, kept at boot by {persistent}\n", status.StandardOutput);

            var registered = RunXar();
            Assert.True(registered.ExitCode == 0, registered.StandardError);
            Assert.Equal("ran with a b\n", registered.StandardOutput);

            var uninstall = ReaderCli.Run("binfmt", "uninstall", "--name", name);
            Assert.Equal(0, uninstall.ExitCode);
            Assert.False(File.Exists(persistent));
            Assert.Equal(1, ReaderCli.Run("binfmt", "status", "--name", name).ExitCode);
            Assert.Equal(127, RunXar().ExitCode);

            // Without --launcher: the xarexec installed with this xar (out/bin beside out/xar).
            TestEnv.Run(new RunOptions(ReaderCli.XarPath, ["binfmt", "install", "--name", name, "--no-persist"])
                { Environment = new Dictionary<string, string?> { ["PATH"] = "/usr/bin:/bin" } }).EnsureSuccess("xar binfmt install");
            Assert.Equal($"{name}: enabled, interpreter {Path.GetFullPath(xarexec)}, until reboot\n",
                ReaderCli.Run("binfmt", "status", "--name", name).StandardOutput);
        }
        finally
        {
            ReaderCli.Run("binfmt", "uninstall", "--name", name);
            if (!hadConfigDirectory && Directory.Exists("/etc/binfmt.d") && !Directory.EnumerateFileSystemEntries("/etc/binfmt.d").Any())
                Directory.Delete("/etc/binfmt.d");
        }
    }

    [Theory]
    [InlineData("install", "--name", "bad/name")]
    [InlineData("install", "--launcher", "/nonexistent/xarexec")]
    [InlineData("status", "--name", "register")]
    public void BadArgumentsExitTwo(params string[] args)
    {
        var r = ReaderCli.Run(["binfmt", .. args]);
        Assert.Equal(2, r.ExitCode);
        Assert.StartsWith("xar: ", r.StandardError);
        Assert.Single(r.StandardError.TrimEnd('\n').Split('\n'));
    }
}
