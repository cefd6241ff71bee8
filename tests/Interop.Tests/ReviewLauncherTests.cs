using Xar.Tests;

namespace Xar.Interop.Tests;

/// <summary>Review findings on the runtime (mount and cache directories) reached through `xar`.</summary>
[System.Runtime.Versioning.SupportedOSPlatform("linux")]
public class ReviewLauncherTests
{
    /// <summary>
    /// `xar mount` does not set the umask as xarexec does: under umask 077 it created uid-N as 0700,
    /// then refused its own directory ("has mode 0700, expected 0755"), and every later xarexec run
    /// failed on it too. Directories we create get their exact mode whatever the umask.
    /// </summary>
    [SkippableFact]
    public void MountUnderRestrictiveUmaskCreatesUsableDirectories()
    {
        TestEnv.RequireFuse();
        using var tmp = new TempDir("review-umask");
        string tree = tmp["tree"];
        Directory.CreateDirectory(tree);
        File.WriteAllText(Path.Combine(tree, "hello"), "hello\n");
        string xar = tmp["app.xar"];
        ReaderCli.Run("pack", tree, "-o", xar, "--quiet").EnsureSuccess("xar pack");
        string root = tmp["mnt"];
        Directory.CreateDirectory(root);
        File.SetUnixFileMode(root, (UnixFileMode)Convert.ToInt32("1777", 8));
        var env = new Dictionary<string, string?> { ["XAR_MOUNT_ROOT"] = root };
        string q(string s) => "'" + s.Replace("'", "'\\''") + "'";
        var r = TestEnv.Run(new RunOptions("/bin/sh", ["-c", $"umask 077; exec {q(ReaderCli.XarPath)} mount {q(xar)}"]) { Environment = env });
        try
        {
            Assert.True(r.ExitCode == 0, r.StandardError);
            string mount = r.StandardOutput.Trim();
            Assert.Equal("hello\n", File.ReadAllText(Path.Combine(mount, "hello")));
            Assert.Equal(Convert.ToInt32("755", 8), (int)File.GetUnixFileMode(Path.GetDirectoryName(mount)!));
        }
        finally
        {
            TestEnv.Run(new RunOptions(ReaderCli.XarPath, ["unmount", xar]) { Environment = env });
        }
    }
}
