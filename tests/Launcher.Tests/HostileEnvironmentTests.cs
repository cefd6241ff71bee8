using Xar.Tests;

namespace Xar.Launcher.Tests;

/// <summary>
/// Mount roots, user directories and lock files that another user could have planted or broken:
/// the launcher refuses them with one line and exit 127, and leaves no mount behind.
/// </summary>
public class HostileEnvironmentTests
{
    private static void Require()
    {
        TestEnv.RequireRoot();
        TestEnv.RequireFuse();
        TestEnv.RequireTool("mksquashfs");
    }

    private static string Refused(LauncherSandbox s, string xar, Dictionary<string, string?>? env = null)
    {
        var r = s.Run(xar, [], env);
        string cause = LaunchAssert.OneLineFailure(r, xar);
        Assert.Equal("", r.StandardOutput);
        Assert.Empty(s.Mounts());
        return cause;
    }

    /// <summary>
    /// A user directory under the mount root that is not as it must be (another user may have made it) stops
    /// the mount, not the program: the image is extracted instead, with the reason in one line.
    /// </summary>
    private static string ExtractedInstead(LauncherSandbox s, string xar)
    {
        var r = s.Run(xar, []);
        LaunchAssert.Succeeded(r);
        Assert.Empty(s.Mounts());
        Assert.Contains("XAR_MOUNT=" + s.CacheDir + "/", r.StandardOutput);
        string prefix = $"xarexec: {xar}: cannot mount: ";
        Assert.StartsWith(prefix, r.StandardError);
        Assert.EndsWith(": extracted once into " + s.CacheDir + "/" + Xar.Runtime.XarHeader.ReadFromFile(xar).Uuid + "\n", r.StandardError);
        Assert.Single(r.StandardError.TrimEnd('\n').Split('\n'));
        return r.StandardError[prefix.Length..];
    }

    [SkippableFact]
    public void MountRootWithoutTheStickyWorldWritableModeIsRefused()
    {
        Require();
        using var s = new LauncherSandbox();
        string xar = TestXar.Build(s.AppTree, s["app.xar"]);
        File.SetUnixFileMode(s.MountRoot, (UnixFileMode)0x1FF); // 0777, no sticky bit
        Assert.Contains("has mode 777, expected 1777", Refused(s, xar));
    }

    [SkippableFact]
    public void MountRootOwnedBySomeoneElseIsRefused()
    {
        Require();
        using var s = new LauncherSandbox();
        string xar = TestXar.Build(s.AppTree, s["app.xar"]);
        File.SetUnixFileMode(s.MountRoot, (UnixFileMode)0x3FF);
        TestEnv.Run("chown", "4321", s.MountRoot).EnsureSuccess("chown");
        Assert.Contains("owned by uid 4321", Refused(s, xar));
    }

    [SkippableFact]
    public void MissingMountRootIsRefused()
    {
        Require();
        using var s = new LauncherSandbox();
        string xar = TestXar.Build(s.AppTree, s["app.xar"]);
        var env = new Dictionary<string, string?> { ["XAR_MOUNT_ROOT"] = s["missing-root"] };
        Assert.Contains("does not exist", Refused(s, xar, env));
    }

    [SkippableFact]
    public void UserDirectoryWithAWrongModeIsNotMountedIn()
    {
        Require();
        using var s = new LauncherSandbox();
        string xar = TestXar.Build(s.AppTree, s["app.xar"]);
        string uidDir = Path.Combine(s.MountRoot, "uid-0");
        Directory.CreateDirectory(uidDir);
        File.SetUnixFileMode(uidDir, (UnixFileMode)0x1FF);
        Assert.Contains("has mode 0777, expected 0755", ExtractedInstead(s, xar));
    }

    [SkippableFact]
    public void UserDirectoryOwnedBySomeoneElseIsNotMountedIn()
    {
        Require();
        using var s = new LauncherSandbox();
        string xar = TestXar.Build(s.AppTree, s["app.xar"]);
        string uidDir = Path.Combine(s.MountRoot, "uid-0");
        Directory.CreateDirectory(uidDir);
        TestEnv.Run("chown", "4321:4321", uidDir).EnsureSuccess("chown");
        Assert.Contains("owned by uid 4321", ExtractedInstead(s, xar));
    }

    [SkippableFact]
    public void UserDirectoryThatIsASymlinkIsNotMountedIn()
    {
        Require();
        using var s = new LauncherSandbox();
        string xar = TestXar.Build(s.AppTree, s["app.xar"]);
        Directory.CreateDirectory(s["elsewhere"]);
        File.CreateSymbolicLink(Path.Combine(s.MountRoot, "uid-0"), s["elsewhere"]);
        Assert.Contains("not a symbolic link", ExtractedInstead(s, xar));
    }

    [SkippableFact]
    public void LockFileThatIsASymlinkIsRefused()
    {
        Require();
        using var s = new LauncherSandbox();
        string xar = TestXar.Build(s.AppTree, s["app.xar"]);
        string mount = MountPathOf(s, xar);
        File.WriteAllText(s["victim"], "do not touch");
        Directory.CreateDirectory(Path.GetDirectoryName(mount)!);
        File.CreateSymbolicLink(Path.Combine(Path.GetDirectoryName(mount)!, "lockfile." + Path.GetFileName(mount)), s["victim"]);
        Assert.Contains("cannot open lock file", Refused(s, xar));
        Assert.Equal("do not touch", File.ReadAllText(s["victim"]));
    }

    [SkippableFact]
    public void LockFileWithAWrongModeIsRefused()
    {
        Require();
        using var s = new LauncherSandbox();
        string xar = TestXar.Build(s.AppTree, s["app.xar"]);
        string mount = MountPathOf(s, xar);
        Directory.CreateDirectory(Path.GetDirectoryName(mount)!);
        string lockFile = Path.Combine(Path.GetDirectoryName(mount)!, "lockfile." + Path.GetFileName(mount));
        File.WriteAllText(lockFile, "");
        File.SetUnixFileMode(lockFile, (UnixFileMode)0x1B6); // 0666
        Assert.Contains("has mode 0666, expected 0600", Refused(s, xar));
    }

    [SkippableFact]
    public void MountDirectoryOwnedBySomeoneElseIsRefused()
    {
        Require();
        using var s = new LauncherSandbox();
        string xar = TestXar.Build(s.AppTree, s["app.xar"]);
        string mount = MountPathOf(s, xar);
        Directory.CreateDirectory(mount);
        TestEnv.Run("chown", "4321", mount).EnsureSuccess("chown");
        Assert.Contains("owned by uid 4321", Refused(s, xar));
    }

    [SkippableFact]
    public void BadMountTimeoutIsRefused()
    {
        Require();
        using var s = new LauncherSandbox();
        string xar = TestXar.Build(s.AppTree, s["app.xar"]);
        var env = new Dictionary<string, string?> { ["XAR_MOUNT_TIMEOUT"] = "soon" };
        Assert.Contains("XAR_MOUNT_TIMEOUT", Refused(s, xar, env));
    }

    private static string MountPathOf(LauncherSandbox s, string xar)
    {
        var r = TestEnv.Run(new RunOptions(LauncherBinary.Path, ["-n", xar]) { Environment = s.Environment() });
        LaunchAssert.Succeeded(r);
        return r.StandardOutput.TrimEnd('\n');
    }
}
