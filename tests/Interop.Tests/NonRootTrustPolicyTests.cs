using Xar.Tests;

namespace Xar.Interop.Tests;

/// <summary>
/// A user's own trust policy (~/.config/xar/trusted-keys.d), as a user who is not root (nobody, through the
/// extraction cache so that /dev/fuse is left alone): it counts when the directory is the user's, and a key file
/// others could change stops every launch. Keys made by Debian's minisign.
/// </summary>
[System.Runtime.Versioning.SupportedOSPlatform("linux")]
public class NonRootTrustPolicyTests
{
    private const string Nobody = "65534";

    [SkippableFact]
    public void ANonRootUsersOwnKeysDecideWhatRunsForThatUser()
    {
        TestEnv.RequireRoot();
        foreach (var tool in new[] { "setpriv", "minisign" })
            TestEnv.RequireTool(tool);
        using var tmp = new TempDir("nonroot-trust");
        TestEnv.Run("chmod", "0755", tmp.Path).EnsureSuccess("chmod");
        string programs = tmp["bin"];
        string xar = TestEnv.PublishedProgramForAnyUser("xar", programs);
        string xarexec = TestEnv.PublishedProgramForAnyUser("xarexec", programs);

        string tree = tmp["tree"];
        Directory.CreateDirectory(tree);
        File.WriteAllText(Path.Combine(tree, "run"), "#!/bin/sh\necho \"uid=$(id -u) args=$*\"\n");
        File.SetUnixFileMode(Path.Combine(tree, "run"), (UnixFileMode)0x1ED);
        string signed = tmp["signed.xar"], unsigned = tmp["unsigned.xar"];
        TestEnv.Run(xar, "pack", tree, "-o", signed, "--exec", "run", "--quiet").EnsureSuccess("pack");
        File.WriteAllText(Path.Combine(tree, "other"), "another image, another UUID\n");
        TestEnv.Run(xar, "pack", tree, "-o", unsigned, "--exec", "run", "--quiet").EnsureSuccess("pack");
        string keys = tmp["made-keys"];
        Directory.CreateDirectory(keys);
        TestEnv.Run("minisign", "-G", "-W", "-p", Path.Combine(keys, "k.pub"), "-s", Path.Combine(keys, "k.key")).EnsureSuccess("minisign -G");
        TestEnv.Run(xar, "sign", "-q", signed, "--key", Path.Combine(keys, "k.key")).EnsureSuccess("xar sign");
        TestEnv.Run("chmod", "0644", signed, unsigned).EnsureSuccess("chmod");

        string home = tmp["home"];
        string keyDir = Path.Combine(home, ".config", "xar", "trusted-keys.d");
        Directory.CreateDirectory(keyDir);
        File.Copy(Path.Combine(keys, "k.pub"), Path.Combine(keyDir, "k.pub"));
        TestEnv.Run("chown", "-R", Nobody, home).EnsureSuccess("chown");
        var env = new Dictionary<string, string?>
        {
            ["HOME"] = home,
            ["XAR_EXTRACT"] = "1",
            ["XAR_CACHE_DIR"] = null,
            ["XDG_CACHE_HOME"] = null,
            ["XAR_MOUNT_ROOT"] = null,
        };
        ProcessResult AsNobody(params string[] command) =>
            TestEnv.Run(new RunOptions("setpriv", ["--reuid=" + Nobody, "--regid=" + Nobody, "--clear-groups", .. command]) { Environment = env });

        var ok = AsNobody(xarexec, signed, "a");
        Assert.True(ok.ExitCode == 0, ok.StandardError);
        Assert.Equal($"uid={Nobody} args=a\n", ok.StandardOutput);
        var refused = AsNobody(xarexec, unsigned, "a");
        Assert.Equal(127, refused.ExitCode);
        Assert.Equal($"xarexec: {unsigned}: not signed: not run (a trust policy is in force: the keys in /etc/xar/trusted-keys.d and ~/.config/xar/trusted-keys.d)\n", refused.StandardError);
        Assert.False(Directory.Exists(Path.Combine(home, ".cache", "xar", UuidOf(xar, unsigned))));

        // A key file anyone may write: the policy cannot be read safely, nothing runs.
        File.SetUnixFileMode(Path.Combine(keyDir, "k.pub"), (UnixFileMode)0x1B6);
        var unsafeKey = AsNobody(xarexec, signed, "a");
        Assert.Equal(127, unsafeKey.ExitCode);
        Assert.Contains("is writable by others (mode 0666)", unsafeKey.StandardError);
        File.SetUnixFileMode(Path.Combine(keyDir, "k.pub"), (UnixFileMode)0x1A4);

        // The directory given to root: not this user's, so no policy of theirs.
        TestEnv.Run("chown", "0", keyDir).EnsureSuccess("chown");
        var free = AsNobody(xarexec, unsigned, "b");
        Assert.True(free.ExitCode == 0, free.StandardError);
        Assert.Equal($"uid={Nobody} args=b\n", free.StandardOutput);
    }

    private static string UuidOf(string xar, string file) =>
        TestEnv.Run(xar, "info", "--json", file).EnsureSuccess("info").StandardOutput.Split("\"UUID\"")[1].Split('"')[1];
}
