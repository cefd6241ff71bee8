using Xar.Tests;

using static Xar.Interop.Tests.FuseServerSupport;

namespace Xar.Interop.Tests;

/// <summary>
/// A user who is not root mounts with the built-in server through fusermount3 (the _FUSE_COMMFD
/// hand-off), reads, and unmounts with fusermount3 -u. fusermount3 opens /dev/fuse as the calling
/// user (it drops its privileges for that), so /dev/fuse is made 0666 for the test, as most
/// desktops have it.
/// </summary>
[Collection("machine-wide")]
[System.Runtime.Versioning.SupportedOSPlatform("linux")]
public sealed class FuseServerNonRootTests
{
    private const string Nobody = "65534";

    [SkippableFact]
    public void NobodyMountsThroughFusermount()
    {
        RequireMounting();
        TestEnv.RequireTool("setpriv");
        TestEnv.RequireTool("fusermount3");
        using var tmp = new TempDir("fuse-nobody");
        TestEnv.Run("chmod", "0755", tmp.Path).EnsureSuccess("chmod");
        string source = tmp["src"];
        Directory.CreateDirectory(source);
        BuildEdgeTree(source);
        string image = tmp["edge.sqfs"];
        Pack(source, image);
        TestEnv.Run("chmod", "0600", image).EnsureSuccess("chmod image"); // nobody reads it only through the descriptor
        string programs = tmp["bin"];
        Directory.CreateDirectory(programs);
        string xarexec = Path.Combine(programs, "xarexec");
        File.Copy(LauncherBinary.Path, xarexec);
        TestEnv.Run("chmod", "0755", programs, xarexec).EnsureSuccess("chmod xarexec");
        string mountPoint = tmp["mnt"];
        Directory.CreateDirectory(mountPoint);
        TestEnv.Run("chown", Nobody, mountPoint).EnsureSuccess("chown");
        string mode = TestEnv.Run("stat", "-c", "%a", "/dev/fuse").EnsureSuccess("stat").StandardOutput.Trim();
        TestEnv.Run("chmod", "0666", "/dev/fuse").EnsureSuccess("chmod /dev/fuse");
        try
        {
            // As the launcher will: the image opened by the caller, the server started as the user.
            var start = TestEnv.Run(new RunOptions("bash", ["-c",
                "exec 3<\"$1\" && exec setpriv --reuid=65534 --regid=65534 --clear-groups \"$2\" --fuse-serve --image-fd 3 --timeout 0 -- \"$3\"",
                "start", image, xarexec, mountPoint]));
            start.EnsureSuccess("xarexec --fuse-serve as nobody");
            int pid = ServerPid(mountPoint);
            Assert.Equal(Nobody, File.ReadAllLines($"/proc/{pid}/status").Single(l => l.StartsWith("Uid:")).Split('\t')[1]);

            string line = File.ReadAllText("/proc/mounts").Split('\n').Single(l => l.Split(' ').ElementAtOrDefault(1) == mountPoint);
            Assert.Contains(" fuse.xar ro,nosuid,nodev", line);
            Assert.Contains("user_id=65534", line);
            var read = TestEnv.Run("setpriv", "--reuid=65534", "--regid=65534", "--clear-groups", "cat", Path.Combine(mountPoint, "dir/hello.txt"));
            Assert.Equal("hello\n", read.EnsureSuccess("cat as nobody").StandardOutput);
            // What nobody sees equals what root sees on a kernel mount (trusted.* xattrs aside: root-only there, and here).
            using var kernel = new KernelMount(image, tmp["kernel"]);
            var nobodyView = NobodySnapshot(mountPoint);
            var kernelView = NobodySnapshot(kernel.Path);
            Assert.Equal(kernelView, nobodyView);

            var unmount = TestEnv.Run("setpriv", "--reuid=65534", "--regid=65534", "--clear-groups", "fusermount3", "-u", mountPoint);
            unmount.EnsureSuccess("fusermount3 -u as nobody");
            Assert.False(IsMounted(mountPoint));
            Assert.True(WaitFor(() => !ProcessExists(pid), TimeSpan.FromSeconds(5)), "the server did not exit after fusermount3 -u");
        }
        finally
        {
            TestEnv.Run("chmod", mode, "/dev/fuse");
            if (IsMounted(mountPoint))
                TestEnv.Run("umount", "-l", mountPoint);
        }
    }

    // stat, readlink and xattrs of every path as nobody sees them (find -printf runs as nobody).
    private static string NobodySnapshot(string root)
    {
        var r = TestEnv.Run("setpriv", "--reuid=65534", "--regid=65534", "--clear-groups", "bash", "-c",
            "cd \"$1\" && find . -path ./deep -prune -o -printf '%p %i %n %M %U %G %s %b %T@ %l\\n' | LC_ALL=C sort && getfattr -R -d -m - --absolute-names . 2>&1 | grep -v '^#' | LC_ALL=C sort",
            "snap", root);
        return r.EnsureSuccess("snapshot as nobody").StandardOutput;
    }

}
