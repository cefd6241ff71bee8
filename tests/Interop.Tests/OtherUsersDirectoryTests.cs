using System.Diagnostics;
using Xar.Tests;

namespace Xar.Interop.Tests;

/// <summary>
/// Another user's code never runs as you (#9, attack 1): user A (nobody) launches with its cache or mount root
/// under a directory that user B (uid 4321) owns. B swaps what is there in a loop while A launches; A's launcher
/// never uses a place B can change (it falls back to a place only root and A control, or refuses a place the
/// environment names), so B's code never runs as A.
/// </summary>
[System.Runtime.Versioning.SupportedOSPlatform("linux")]
public class OtherUsersDirectoryTests
{
    private const string UserA = "65534", UserB = "4321";

    [SkippableFact]
    public void AnotherUsersDirectoryIsNeverUsedWhileThatUserSwapsItsContents()
    {
        TestEnv.RequireRoot();
        foreach (var tool in new[] { "setpriv", "mksquashfs" })
            TestEnv.RequireTool(tool);
        using var tmp = new TempDir("other-user");
        TestEnv.Run("chmod", "0755", tmp.Path).EnsureSuccess("chmod");
        string programs = tmp["bin"];
        string xarProgram = TestEnv.PublishedProgramForAnyUser("xar", programs);
        string xarexec = TestEnv.PublishedProgramForAnyUser("xarexec", programs);

        string tree = tmp["tree"];
        Directory.CreateDirectory(tree);
        File.WriteAllText(Path.Combine(tree, "run"), "#!/bin/sh\necho \"good uid=$(id -u) from=$XAR_MOUNT\"\n");
        File.SetUnixFileMode(Path.Combine(tree, "run"), (UnixFileMode)0x1ED);
        string xar = tmp["app.xar"];
        TestEnv.Run(xarProgram, "pack", tree, "-o", xar, "--exec", "run", "--quiet").EnsureSuccess("xar pack");
        string uuid = Xar.Runtime.XarHeader.ReadFromFile(xar).Uuid;
        TestEnv.Run("chmod", "0644", xar).EnsureSuccess("chmod");

        // B's world-writable sticky directory, and in it what B wants A to run.
        string b = tmp["b"];
        Directory.CreateDirectory(b);
        TestEnv.Run("chown", UserB, b).EnsureSuccess("chown");
        TestEnv.Run("chmod", "1777", b).EnsureSuccess("chmod");
        string script = $$"""
            set -u
            mkdir -p "$B/evil/{{uuid}}"
            printf '#!/bin/sh\necho "EVIL uid=$(id -u)"\n' > "$B/evil/{{uuid}}/xar_bootstrap.sh"
            chmod 755 "$B/evil/{{uuid}}/xar_bootstrap.sh"
            end=$(( $(date +%s) + 4 ))
            while [ "$(date +%s)" -lt "$end" ]; do
                for d in "$B/xar-{{UserA}}" "$B/cache"; do
                    [ -e "$d" ] && mv "$d" "$B/old.$$" 2>/dev/null && rm -rf "$B/old.$$" 2>/dev/null
                    ln -sfn "$B/evil" "$d" 2>/dev/null
                    rm -f "$d" 2>/dev/null
                done
            done
            """;
        var swapper = new ProcessStartInfo("setpriv", ["--reuid=" + UserB, "--regid=" + UserB, "--clear-groups", "/bin/sh", "-c", script]) { UseShellExecute = false };
        swapper.Environment["B"] = b;
        var env = new Dictionary<string, string?>
        {
            ["HOME"] = "/nonexistent",
            ["XDG_CACHE_HOME"] = "/proc/xar-cannot-be-here",
            ["XAR_CACHE_DIR"] = null,
            ["XAR_EXTRACT"] = "1",
            ["TMPDIR"] = b,
            ["PATH"] = programs + ":/usr/sbin:/usr/bin:/sbin:/bin",
        };
        ProcessResult AsA(params string[] command) =>
            TestEnv.Run(new RunOptions("setpriv", ["--reuid=" + UserA, "--regid=" + UserA, "--clear-groups", .. command]) { Environment = env });

        using (var loop = Process.Start(swapper)!)
        {
            var runs = new List<ProcessResult>();
            for (int i = 0; i < 40 && !loop.HasExited; i++)
                runs.Add(AsA(xarexec, xar));
            env["XAR_CACHE_DIR"] = Path.Combine(b, "cache");
            var named = AsA(xarexec, xar);
            loop.WaitForExit();

            Assert.NotEmpty(runs);
            Assert.All(runs, r => Assert.DoesNotContain("EVIL", r.StandardOutput));
            Assert.All(runs, r => Assert.Equal($"good uid={UserA} from=/var/tmp/xar-{UserA}/{uuid}\n", r.StandardOutput));
            Assert.False(Directory.Exists(Path.Combine(b, "xar-" + UserA)) && new FileInfo(Path.Combine(b, "xar-" + UserA)).LinkTarget is null
                && File.Exists(Path.Combine(b, "xar-" + UserA, uuid, "run")), "A extracted into B's directory");

            // A cache the environment names inside B's directory is refused, not used.
            Assert.Equal(127, named.ExitCode);
            Assert.Equal("", named.StandardOutput);
            Assert.Contains($"{b} can be changed by another user (uid {UserB}", named.StandardError);
        }
        TestEnv.Run("rm", "-rf", $"/var/tmp/xar-{UserA}/{uuid}", $"/var/tmp/xar-{UserA}/lockfile.{uuid}");
    }
}
