using Xar.Tests;

namespace Xar.Interop.Tests;

/// <summary>Tests that change machine-wide state for a moment (/dev/fuse's mode, binfmt_misc): one at a time.</summary>
[CollectionDefinition("machine-wide", DisableParallelization = true)]
public sealed class MachineWideCollection;

/// <summary>
/// Most users are not root and most desktops have /dev/fuse mode 0666: the launcher must mount
/// there (not fall back to extraction), share the mount, unmount with fusermount3, and recover a
/// mount whose squashfuse was killed. Runs as nobody, with /dev/fuse made 0666 for the test.
/// </summary>
[Collection("machine-wide")]
[System.Runtime.Versioning.SupportedOSPlatform("linux")]
public class NonRootLauncherTests
{
    private const string Nobody = "65534";

    /// <summary>Through fusermount3, with the built-in server (the default) and with squashfuse.</summary>
    [SkippableTheory]
    [InlineData("xar")]
    [InlineData("squashfuse")]
    public void NobodyMountsSharesUnmountsAndRecovers(string server)
    {
        TestEnv.RequireRoot();
        TestEnv.RequireFuse();
        foreach (var tool in new[] { "setpriv", "fusermount3", "pkill" })
            TestEnv.RequireTool(tool);
        using var tmp = new TempDir("nonroot-fuse");
        TestEnv.Run("chmod", "0755", tmp.Path).EnsureSuccess("chmod");
        string programs = tmp["bin"];
        string xarProgram = TestEnv.PublishedProgramForAnyUser("xar", programs);
        string xarexec = TestEnv.PublishedProgramForAnyUser("xarexec", programs);
        File.CreateSymbolicLink(Path.Combine(programs, "xarexec_fuse"), "xarexec");

        string tree = tmp["tree"];
        Directory.CreateDirectory(tree);
        File.WriteAllText(Path.Combine(tree, "run"), "#!/bin/sh\necho \"uid=$(id -u) new=${XARFUSE_NEW_MOUNT:-0} args=$*\"\n");
        File.SetUnixFileMode(Path.Combine(tree, "run"), (UnixFileMode)0x1ED);
        string xar = tmp["app.xar"];
        TestEnv.Run(xarProgram, "pack", tree, "-o", xar, "--exec", "run", "--quiet").EnsureSuccess("xar pack");
        string root = tmp["mnt"];
        Directory.CreateDirectory(root);
        File.SetUnixFileMode(root, (UnixFileMode)Convert.ToInt32("1777", 8));
        string home = tmp["home"];
        Directory.CreateDirectory(home);
        TestEnv.Run("chown", Nobody, home).EnsureSuccess("chown");
        var env = new Dictionary<string, string?>
        {
            ["HOME"] = home,
            ["XAR_MOUNT_ROOT"] = root,
            ["XAR_CACHE_DIR"] = null,
            ["XDG_CACHE_HOME"] = null,
            ["XAR_EXTRACT"] = null,
            ["PATH"] = programs + ":/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
            ["XAR_FUSE"] = server == "xar" ? null : server,
        };
        ProcessResult AsNobody(params string[] command) =>
            TestEnv.Run(new RunOptions("setpriv", ["--reuid=" + Nobody, "--regid=" + Nobody, "--clear-groups", .. command]) { Environment = env });

        string mode = TestEnv.Run("stat", "-c", "%a", "/dev/fuse").EnsureSuccess("stat").StandardOutput.Trim();
        TestEnv.Run("chmod", "0666", "/dev/fuse").EnsureSuccess("chmod /dev/fuse");
        string? mount = null;
        try
        {
            var first = AsNobody(xar, "a b");
            Assert.True(first.ExitCode == 0, first.StandardError);
            Assert.Equal($"uid={Nobody} new=1 args=a b\n", first.StandardOutput);
            Assert.Equal("", first.StandardError); // mounted: no word of extraction
            var printed = AsNobody(xarexec, "-m", xar);
            Assert.True(printed.ExitCode == 0, printed.StandardError);
            mount = printed.StandardOutput.Trim();
            Assert.StartsWith(Path.Combine(root, "uid-" + Nobody) + "/", mount);
            Assert.Contains(MountLine(mount), l => l.Contains("user_id=" + Nobody)
                && l.Contains(server == "xar" ? " - fuse.xar " : " - fuse.squashfuse_ll "));

            var second = AsNobody(xar, "c");
            Assert.True(second.ExitCode == 0, second.StandardError);
            Assert.Equal($"uid={Nobody} new=0 args=c\n", second.StandardOutput);

            // The server killed: the mount is broken (ENOTCONN); the next start unmounts it
            // through fusermount3 and mounts again.
            string pattern = (server == "xar" ? "--fuse-serve.*" : "squashfuse_ll.*") + mount;
            TestEnv.Run("pkill", "-KILL", "-f", "-u", Nobody, "--", pattern).EnsureSuccess("pkill " + server);
            var recovered = AsNobody(xar, "d");
            Assert.True(recovered.ExitCode == 0, recovered.StandardError);
            Assert.Equal($"uid={Nobody} new=1 args=d\n", recovered.StandardOutput);
            Assert.Single(MountLine(mount));

            var unmount = AsNobody(xarProgram, "unmount", xar);
            Assert.True(unmount.ExitCode == 0, unmount.StandardError);
            Assert.Empty(MountLine(mount));
            Assert.False(Directory.Exists(Path.Combine(home, ".cache", "xar")), "the extraction fallback was not used");
        }
        finally
        {
            TestEnv.Run("chmod", mode, "/dev/fuse");
            if (mount is not null && MountLine(mount).Count > 0)
                TestEnv.Run("umount", "-l", mount);
        }
    }

    private static List<string> MountLine(string mount) =>
        File.ReadAllLines("/proc/self/mountinfo").Where(l => l.Split(' ')[4] == mount).ToList();
}
