using Xar.Tests;

namespace Xar.Packer.Tests;

/// <summary>`xar mount FILE`: mounts where xarexec would (the launcher then uses that mount) and prints the directory.</summary>
[Collection(SandboxedXarCollection.Name)]
public class MountCommandTests
{
    [SkippableFact]
    public void MountPrintsTheDirectoryAndUnmountTakesFileOrDirectory()
    {
        SandboxedXar.RequireMounting();
        using var s = new LauncherSandbox();
        string xar = TestXar.Build(s.AppTree, s["app.xar"]);
        var mounted = SandboxedXar.Run(s, null, "mount", xar);
        LaunchAssert.Succeeded(mounted);
        string dir = mounted.StandardOutput.TrimEnd('\n');
        Assert.Equal(dir, Assert.Single(s.Mounts()));
        Assert.Equal(TestXar.Payload, File.ReadAllText(Path.Combine(dir, "data", "payload.txt")));
        // The launcher uses the same mount.
        var run = s.Run(xar, []);
        Assert.Contains("NEW_MOUNT=\n", run.StandardOutput);

        LaunchAssert.Succeeded(SandboxedXar.Run(s, null, "unmount", xar));
        Assert.Empty(s.Mounts());
        Assert.False(Directory.Exists(dir));
        var notMounted = SandboxedXar.Run(s, null, "unmount", xar);
        Assert.Equal(1, notMounted.ExitCode);
        Assert.Equal($"xar: {xar}: {dir} is not mounted\n", notMounted.StandardError);

        string again = SandboxedXar.Run(s, null, "mount", xar).StandardOutput.TrimEnd('\n');
        LaunchAssert.Succeeded(SandboxedXar.Run(s, null, "unmount", again));
        Assert.Empty(s.Mounts());
    }

    [SkippableFact]
    public void MountWithSquashfuseAbsentFailsWithTheReason()
    {
        TestEnv.RequireTool("mksquashfs");
        using var s = new LauncherSandbox();
        string xar = TestXar.Build(s.AppTree, s["app.xar"]);
        var env = s.Environment();
        var r = TestEnv.Run(new RunOptions(XarBinary.Path, ["mount", xar])
        {
            Environment = new Dictionary<string, string?>(env) { ["PATH"] = "/nonexistent", ["XAR_FUSE"] = "squashfuse" },
        });
        Assert.Equal(1, r.ExitCode);
        Assert.Equal($"xar: {xar}: cannot mount: neither squashfuse_ll nor squashfuse is on PATH (xar extract unpacks it instead)\n", r.StandardError);
        Assert.Empty(s.Mounts());
    }

    /// <summary>
    /// `xar mount` does not set the umask as xarexec does: under umask 077 it created uid-N as 0700,
    /// then refused its own directory ("has mode 0700, expected 0755"), and every later xarexec run
    /// failed on it too. Directories we create get their exact mode whatever the umask.
    /// </summary>
    [SkippableFact]
    public void MountUnderRestrictiveUmaskCreatesUsableDirectories()
    {
        TestEnv.RequireFuse();
        using var tmp = new TempDir("mount-umask");
        string xar = PackHello(tmp);
        string root = tmp["mnt"];
        Directory.CreateDirectory(root);
        File.SetUnixFileMode(root, (UnixFileMode)Convert.ToInt32("1777", 8));
        var env = new Dictionary<string, string?> { ["XAR_MOUNT_ROOT"] = root };
        string q(string s) => "'" + s.Replace("'", "'\\''") + "'";
        var r = TestEnv.Run(new RunOptions("/bin/sh", ["-c", $"umask 077; exec {q(XarBinary.Path)} mount {q(xar)}"]) { Environment = env });
        try
        {
            Assert.True(r.ExitCode == 0, r.StandardError);
            string mount = r.StandardOutput.Trim();
            Assert.Equal("hello\n", File.ReadAllText(Path.Combine(mount, "hello")));
            Assert.Equal(Convert.ToInt32("755", 8), (int)File.GetUnixFileMode(Path.GetDirectoryName(mount)!));
        }
        finally
        {
            TestEnv.Run(new RunOptions(XarBinary.Path, ["unmount", xar]) { Environment = env });
        }
    }

    /// <summary>
    /// A mount root whose name is not UTF-8 (XAR_MOUNT_ROOT is bytes): the launcher mounts there, and `xar mount`,
    /// `xar unmount` (by file and by directory), `xar gc` and `xarexec -m` work on the same bytes. Before, .NET's
    /// strings turned the 0xff into U+FFFD: `xar unmount FILE` failed with "No such file or directory (in use?...)"
    /// and the mount stayed.
    /// </summary>
    [SkippableFact]
    public void MountUnmountAndGcWorkUnderARootThatIsNotUtf8()
    {
        TestEnv.RequireFuse();
        using var tmp = new TempDir("mount-bytes");
        string xar = PackHello(tmp);
        // All in sh: the root's name cannot be a .NET string.
        const string script = """
            root="$1/r$(printf '\377')"; xar=$2; app=$3; xarexec=$4
            mkdir "$root"; chmod 1777 "$root"
            export XAR_MOUNT_ROOT="$root"
            mounted() { grep -aqF " $1 fuse" /proc/self/mounts; }
            d=$("$xar" mount "$app") || exit 10
            case $d in "$root"/uid-*) ;; *) echo "mount printed another directory"; exit 11 ;; esac
            [ "$(cat "$d/hello")" = hello ] || exit 12
            "$xar" unmount "$app" || exit 13
            ! mounted "$d" && [ ! -e "$d" ] || exit 14
            [ "$("$xar" mount "$app")" = "$d" ] || exit 15
            "$xar" unmount "$d" || exit 16
            ! mounted "$d" || exit 17
            [ "$("$xarexec" -m "$app")" = "$d" ] && mounted "$d" || exit 18
            touch -d '2 hours ago' "${d%/*}/lockfile.${d##*/}"  # idle: gc's default limit is 15 minutes
            "$xar" gc > "$1/gc.out" || exit 19
            ! mounted "$d" || exit 20
            """;
        var r = TestEnv.Run(new RunOptions("/bin/sh", ["-c", script, "sh", tmp.Path, XarBinary.Path, xar, LauncherBinary.Path]));
        try
        {
            Assert.True(r.ExitCode == 0, $"step {r.ExitCode}: {r.StandardOutput}{r.StandardError}");
            Assert.Empty(r.StandardError);
            // gc names the directory with the byte escaped.
            Assert.Matches(@"^unmounted: .*/r\\xff/uid-\d+/[0-9a-f]+-", File.ReadAllLines(Path.Combine(tmp.Path, "gc.out")).Single(l => l.Contains("/r\\xff/")));
        }
        finally
        {
            TestEnv.Run(new RunOptions("/bin/sh", ["-c", "XAR_MOUNT_ROOT=\"$1/r$(printf '\\377')\" \"$2\" unmount \"$3\"", "sh", tmp.Path, XarBinary.Path, xar]));
        }
    }

    /// <summary>A XAR (in <paramref name="tmp"/>) of a tree holding one file, <c>hello</c>, that reads "hello\n".</summary>
    private static string PackHello(TempDir tmp)
    {
        string tree = tmp["tree"];
        Directory.CreateDirectory(tree);
        File.WriteAllText(Path.Combine(tree, "hello"), "hello\n");
        string xar = tmp["app.xar"];
        XarCli.Run("pack", tree, "-o", xar, "--quiet").EnsureSuccess("xar pack");
        return xar;
    }
}
