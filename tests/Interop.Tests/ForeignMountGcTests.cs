using Xar.Tests;

namespace Xar.Interop.Tests;

/// <summary>
/// `xar gc` finds XAR mounts in /proc/self/mounts (types fuse.xar, fuse.squashfuse_ll, fuse.squashfuse) whose
/// directory is named uid-N for its own N. User B (uid 4331) mounts a XAR with `xar mount` (our own FUSE server)
/// under a shared 1777 mount root and lets it look idle; then root's gc and a third user's (uid 4332) run, with B's
/// directory under its own name and renamed (mount and all, which Linux allows) to uid-0 and to uid-4332. Neither
/// may unmount, remove or even open anything of B's: a mount counts only when its directory, opened by descriptor,
/// is the gc's user's own. Before, B's directory named uid-0 got as far as root opening B's lock file by its path
/// (refused only because B owns it, and reported), a path a swapped symbolic link could have pointed at another
/// user's mount. B's own gc, last, unmounts it: the mount was one a gc takes when it is its own.
/// </summary>
[Collection("machine-wide")]
[System.Runtime.Versioning.SupportedOSPlatform("linux")]
public class ForeignMountGcTests
{
    // Not 4321: ForeignFuseMountTests (another worktree's run, too) uses that one.
    private const string UserB = "4331", UserC = "4332";

    [SkippableFact]
    public void GcNeverTouchesAnotherUsersMount()
    {
        TestEnv.RequireRoot();
        TestEnv.RequireFuse();
        foreach (var tool in new[] { "setpriv", "fusermount3", "unshare" })
            TestEnv.RequireTool(tool);
        using var tmp = new TempDir("foreign-gc");
        var (_, xar) = TestEnv.ProgramsAndAppForAnyUser(tmp.Path, "#!/bin/sh\necho hi\n");
        string programs = tmp["bin"];
        File.SetUnixFileMode(xar, (UnixFileMode)0x1A4);
        Directory.CreateDirectory(tmp["mnt"]);
        File.SetUnixFileMode(tmp["mnt"], (UnixFileMode)Convert.ToInt32("1777", 8));

        const string script = """
            set -u
            t=$1; bin=$2; xar=$3; b=$4; c=$5
            printf 'user_allow_other\n' > "$t/fuse.conf"; mount --bind "$t/fuse.conf" /etc/fuse.conf || exit 10
            # fusermount3 wants B and C to have names.
            { cat /etc/passwd; printf 'xargcb:x:%s:%s::/nonexistent:/bin/false\nxargcc:x:%s:%s::/nonexistent:/bin/false\n' "$b" "$b" "$c" "$c"; } > "$t/passwd"
            mount --bind "$t/passwd" /etc/passwd || exit 10
            # In this private namespace, only this test's mount: root's gc here must see no one else's (detached
            # here only, not on the machine).
            awk '$3 ~ /^fuse/ { print $2 }' /proc/self/mounts | while read -r m; do umount -l "$(printf '%b' "$m")"; done
            root="$t/mnt"
            as() { u=$1; shift; setpriv --reuid="$u" --regid="$u" --clear-groups env -i PATH=/usr/bin:/bin HOME=/nonexistent XDG_CACHE_HOME="$t/cache-$u" XAR_CACHE_DIR="$t/cache-$u" TMPDIR="$t/tmp-$u" "$@"; }
            # Caches of the test's own: nothing older than ten years is in any, so gc deletes nothing there.
            gc() {
                echo "=== gc as $1 ($2)"
                if [ "$1" = 0 ]; then env -i PATH=/usr/bin:/bin HOME="$t/home-0" XDG_CACHE_HOME="$t/cache-0" XAR_CACHE_DIR="$t/cache-0" TMPDIR="$t/tmp-0" "$bin/xar" gc --idle 0s --older-than 3650d -v
                else as "$1" "$bin/xar" gc --idle 0s --older-than 3650d -v; fi
                echo "status=$?"
                grep -c " fuse.xar " /proc/self/mounts | sed 's/^/mounts=/'
            }
            mkdir -m 700 "$t/cache-0" "$t/tmp-0" "$t/home-0"
            for u in "$b" "$c"; do mkdir -m 700 "$t/cache-$u" "$t/tmp-$u"; chown "$u:$u" "$t/cache-$u" "$t/tmp-$u"; done
            dir=$(as "$b" XAR_MOUNT_ROOT="$root" "$bin/xar" mount "$xar") || exit 11
            name=${dir##*/}
            echo "name=$name"
            [ "$dir" = "$root/uid-$b/$name" ] || exit 12
            lock="lockfile.$name"
            touch -d '2 days ago' "$root/uid-$b/$lock" || exit 13
            gc 0 "uid-$b"
            gc "$c" "uid-$b"
            as "$b" mv "$root/uid-$b" "$root/uid-0" || exit 14
            gc 0 uid-0
            as "$b" mv "$root/uid-0" "$root/uid-$c" || exit 15
            gc "$c" "uid-$c"
            as "$b" mv "$root/uid-$c" "$root/uid-$b" || exit 16
            [ -f "$root/uid-$b/$lock" ] && [ -d "$root/uid-$b/$name" ] || exit 17
            gc "$b" "uid-$b"
            grep " fuse.xar " /proc/self/mounts | while read -r _ m _; do umount -l "$m"; done
            exit 0
            """;
        string fuseMode = TestEnv.Run("stat", "-c", "%a", "/dev/fuse").EnsureSuccess("stat").StandardOutput.Trim();
        TestEnv.Run("chmod", "0666", "/dev/fuse").EnsureSuccess("chmod /dev/fuse");
        ProcessResult r;
        try
        {
            r = TestEnv.Run(new RunOptions("unshare", ["-m", "--propagation", "private", "/bin/sh", "-c", script, "sh", tmp.Path, programs, xar, UserB, UserC])
            {
                TimeoutMs = 120_000,
            });
        }
        finally
        {
            TestEnv.Run("chmod", fuseMode, "/dev/fuse");
        }
        string output = r.StandardOutput;
        Assert.True(r.ExitCode == 0, $"step {r.ExitCode}: {output}{r.StandardError}");
        string name = output.Split('\n').Single(l => l.StartsWith("name=", StringComparison.Ordinal))["name=".Length..];
        string[] runs = output.Split("=== gc as ")[1..];
        Assert.Equal(5, runs.Length);
        foreach (string foreign in runs[..4])
        {
            // Not unmounted, not removed, not even reported (-v lists all a gc looked at).
            Assert.Contains("status=0\nmounts=1\n", foreign);
            Assert.DoesNotContain(name, foreign);
        }
        Assert.StartsWith($"{UserB} (uid-{UserB})\nunmounted: {tmp["mnt"]}/uid-{UserB}/{name}\n", runs[4]);
        Assert.Contains("status=0\nmounts=0\n", runs[4]);
    }
}
