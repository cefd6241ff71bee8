using Xar.Tests;

namespace Xar.Interop.Tests;

/// <summary>
/// A FUSE server answers stat with whatever owner and mode it likes. User B (uid 4321, with /dev/fuse and
/// <c>user_allow_other</c>, as on many desktops) makes the directory root's launcher is about to create in a shared
/// place, and mounts there a server that claims root owns everything and serves a script that records who ran it.
/// Before, root's launcher took the mount root's <c>uid-0</c> for its own (owner and mode looked right) and ran B's
/// script as root. Now a directory the launcher made must be on its parent's file system, and no directory on a
/// cache or mount root's path may be a FUSE mount: root runs its own program (from its cache), or refuses a cache
/// the environment names there.
/// </summary>
[Collection("machine-wide")]
[System.Runtime.Versioning.SupportedOSPlatform("linux")]
public class ForeignFuseMountTests
{
    private const string UserB = "4321";

    [SkippableTheory]
    [InlineData("user-directory")]
    [InlineData("shared-cache")]
    [InlineData("named-cache")]
    public void AnotherUsersFuseMountIsNeverTakenForOurDirectory(string place)
    {
        TestEnv.RequireRoot();
        TestEnv.RequireFuse();
        foreach (var tool in new[] { "setpriv", "fusermount3", "python3", "unshare", "pkill" })
            TestEnv.RequireTool(tool);
        // The system's interpreter: one under root's home (pyenv) is not B's to run.
        string python = File.Exists("/usr/bin/python3") ? "/usr/bin/python3" : TestEnv.FindTool("python3")!;
        using var tmp = new TempDir("foreign-fuse");
        var (_, xar) = TestEnv.ProgramsAndAppForAnyUser(tmp.Path, "#!/bin/sh\necho \"good uid=$(id -u)\"\n");
        string programs = tmp["bin"];
        string uuid = Xar.Runtime.XarHeader.ReadFromFile(xar).Uuid;
        File.WriteAllText(tmp["lying_fuse.py"], LyingFuseServer);
        foreach (string shared in new[] { "root", "b" })
        {
            Directory.CreateDirectory(tmp[shared]);
            File.SetUnixFileMode(tmp[shared], (UnixFileMode)Convert.ToInt32("1777", 8));
        }

        const string script = """
            set -u
            t=$1; bin=$2; xar=$3; place=$4; b=$5; python=$6
            printf 'user_allow_other\n' > "$t/fuse.conf"; mount --bind "$t/fuse.conf" /etc/fuse.conf || exit 10
            # fusermount3 wants B to have a name.
            { cat /etc/passwd; printf 'xarforeign:x:%s:%s::/nonexistent:/bin/false\n' "$b" "$b"; } > "$t/passwd"; mount --bind "$t/passwd" /etc/passwd || exit 10
            case $place in
                user-directory) target="$t/root/uid-0"; mode=755 ;;
                shared-cache) target="$t/b/xar-0"; mode=700 ;;
                named-cache) target="$t/b/cache"; mode=700 ;;
            esac
            # B makes the directory first and mounts its server there (it backgrounds itself once mounted).
            setpriv --reuid="$b" --regid="$b" --clear-groups mkdir -m 0755 "$target" || exit 11
            setpriv --reuid="$b" --regid="$b" --clear-groups "$python" "$t/lying_fuse.py" "$target" "$mode" "$t/ran-as" < /dev/null > /dev/null 2> "$t/server.log" || { cat "$t/server.log"; exit 12; }
            grep -q " $target fuse" /proc/self/mounts || exit 13
            mkdir -m 700 "$t/cache"
            case $place in
                user-directory) XAR_MOUNT_ROOT="$t/root" XAR_CACHE_DIR="$t/cache" "$bin/xarexec" "$xar" ;;
                shared-cache) env -u XAR_CACHE_DIR XAR_EXTRACT=1 TMPDIR="$t/b" HOME=/nonexistent XDG_CACHE_HOME=/proc/xar-none "$bin/xarexec" "$xar" ;;
                named-cache) XAR_EXTRACT=1 XAR_CACHE_DIR="$target" "$bin/xarexec" "$xar" ;;
            esac
            echo "status=$?"
            umount -l "$target"; pkill -u "$b" -f lying_fuse.py
            exit 0
            """;
        string fuseMode = TestEnv.Run("stat", "-c", "%a", "/dev/fuse").EnsureSuccess("stat").StandardOutput.Trim();
        TestEnv.Run("chmod", "0666", "/dev/fuse").EnsureSuccess("chmod /dev/fuse");
        ProcessResult r;
        try
        {
            r = TestEnv.Run(new RunOptions("unshare", ["-m", "--propagation", "private", "/bin/sh", "-c", script, "sh", tmp.Path, programs, xar, place, UserB, python])
            {
                Environment = new Dictionary<string, string?> { ["XAR_MOUNT_ROOT"] = null, ["XAR_CACHE_DIR"] = null, ["XAR_EXTRACT"] = null, ["XAR_FUSE"] = null },
                TimeoutMs = 60_000,
            });
        }
        finally
        {
            TestEnv.Run("chmod", fuseMode, "/dev/fuse");
            TestEnv.Run("rm", "-rf", $"/var/tmp/xar-0/{uuid}", $"/var/tmp/xar-0/lockfile.{uuid}");
        }
        Assert.True(r.ExitCode == 0, $"step {r.ExitCode}: {r.StandardOutput}{r.StandardError}");
        Assert.False(File.Exists(tmp["ran-as"]), "B's script ran: " + (File.Exists(tmp["ran-as"]) ? File.ReadAllText(tmp["ran-as"]) : ""));
        Assert.DoesNotContain("planted", r.StandardOutput);
        if (place == "named-cache")
        {
            Assert.Contains("status=127", r.StandardOutput);
            Assert.Contains($"cache directory {tmp["b/cache"]} is a FUSE mount, whose owner and modes are what its server says", r.StandardError);
        }
        else
        {
            Assert.Equal("good uid=0\nstatus=0\n", r.StandardOutput);
            if (place == "user-directory")
                Assert.Contains($"{tmp["root/uid-0"]} is a mount point, not the directory xar made", r.StandardError);
        }
    }

    /// <summary>
    /// The smallest FUSE server that lies: mounted through fusermount3 with allow_other, it says every directory is
    /// root's with mode ARGV[2], every <c>lockfile.*</c> a 0600 file of root's, and every <c>*.sh</c> a script that
    /// writes who ran it to ARGV[3]. Requests it does not know get ENOSYS.
    /// </summary>
    private const string LyingFuseServer = """
        import os, socket, struct, sys
        mountpoint, dir_mode, record = sys.argv[1], int(sys.argv[2], 8), sys.argv[3]
        script = ('#!/bin/sh\nid -u > %s; echo planted\n' % record).encode()
        ours, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_STREAM)
        child = os.fork()
        if child == 0:
            os.set_inheritable(theirs.fileno(), True)
            os.environ['_FUSE_COMMFD'] = str(theirs.fileno())
            os.execvp('fusermount3', ['fusermount3', '-o', 'allow_other,fsname=lying,subtype=lying', '--', mountpoint])
        theirs.close()
        _, ancillary, _, _ = ours.recvmsg(1, socket.CMSG_LEN(4))
        if not ancillary:
            sys.exit('fusermount3 did not mount')
        fd = struct.unpack('i', ancillary[0][2][:4])[0]
        os.waitpid(child, 0)
        if os.fork():
            os._exit(0)
        os.setsid()
        kinds = {1: 'dir'}
        ids = {}
        def attributes(node):
            kind = kinds[node]
            mode, size = {'dir': (0o040000 | dir_mode, 4096), 'lock': (0o100600, 0), 'file': (0o100755, len(script))}[kind]
            return struct.pack('<QQQQQQIIIIIIIIII', node, size, 0, 0, 0, 0, 0, 0, 0, mode, 2, 0, 0, 0, 4096, 0)
        def reply(unique, error=0, data=b''):
            os.write(fd, struct.pack('<IiQ', 16 + len(data), -error, unique) + data)
        while True:
            try:
                request = os.read(fd, (1 << 20) + 4096)
            except OSError as e:
                if e.errno in (4, 2):
                    continue
                break
            length, opcode, unique, node = struct.unpack_from('<IIQQ', request)
            body = request[40:length]
            if opcode == 26:  # INIT
                reply(unique, 0, struct.pack('<IIIIHHIIHHI', 7, 31, 1 << 17, 0, 16, 12, 4096, 1, 32, 0, 0) + bytes(28))
            elif opcode == 1:  # LOOKUP
                name = body.split(b'\0')[0]
                key = (node, name)
                if key not in ids:
                    ids[key] = len(kinds) + 1
                    kinds[ids[key]] = 'lock' if name.startswith(b'lockfile.') else 'file' if name.endswith(b'.sh') else 'dir'
                reply(unique, 0, struct.pack('<QQQQII', ids[key], 0, 1, 1, 0, 0) + attributes(ids[key]))
            elif opcode in (3, 4):  # GETATTR, SETATTR
                reply(unique, 0, struct.pack('<QII', 1, 0, 0) + attributes(node))
            elif opcode in (14, 27):  # OPEN, OPENDIR
                reply(unique, 0, struct.pack('<QII', 0, 0, 0))
            elif opcode == 15:  # READ
                _, offset, size = struct.unpack_from('<QQI', body)
                reply(unique, 0, (script if kinds[node] == 'file' else b'')[offset:offset + size])
            elif opcode == 17:  # STATFS
                reply(unique, 0, bytes(80))
            elif opcode in (2, 36, 42):  # FORGET, INTERRUPT, BATCH_FORGET: no reply
                pass
            elif opcode in (18, 20, 25, 29, 34):  # RELEASE, FSYNC, FLUSH, RELEASEDIR, ACCESS
                reply(unique, 0)
            elif opcode == 38:  # DESTROY
                reply(unique, 0)
                break
            else:
                reply(unique, 38)  # ENOSYS
        """;
}
