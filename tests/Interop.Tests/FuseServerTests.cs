using System.Diagnostics;
using System.Security.Cryptography;
using Microsoft.Win32.SafeHandles;
using Xar.Posix;
using Xar.Runtime;
using Xar.Runtime.Fuse;
using Xar.SquashFs;
using Xar.SquashFs.Compression;
using Xar.SquashFs.Format;
using Xar.Tests;

using static Xar.Interop.Tests.FuseServerSupport;

namespace Xar.Interop.Tests;

/// <summary>
/// The built-in FUSE server, mounted for real: every field of every path against the kernel's own
/// squashfs driver (a loop mount of the same image) and against the source tree; parallel readers;
/// a corrupt block; the daemon's idle unmount, SIGTERM and unmount by others.
/// </summary>
[System.Runtime.Versioning.SupportedOSPlatform("linux")]
public sealed class FuseServerTests
{
    /// <summary>
    /// The edge tree packed several ways (codecs, block sizes from 4 KiB to 1 MiB, without
    /// fragments, deduplication or xattrs, and by mksquashfs), each mounted by the kernel and by the
    /// built-in server: every path shows the same in both, and the same as the source tree.
    /// </summary>
    [SkippableTheory]
    [InlineData("zstd-128K")]
    [InlineData("gzip-4K-no-xattrs")]
    [InlineData("xz-1M-no-fragments")]
    [InlineData("lz4-64K-no-dedup")]
    [InlineData("mksquashfs")]
    public void ShowsWhatTheKernelShowsFieldByField(string variant)
    {
        RequireMounting();
        using var tmp = new TempDir("fuse-edge");
        string source = tmp["src"];
        Directory.CreateDirectory(source);
        BuildEdgeTree(source);
        string image = tmp["edge.sqfs"];
        if (variant == "mksquashfs")
        {
            TestEnv.RequireTool("mksquashfs");
            // mksquashfs leaves out the path beyond PATH_MAX (with a warning): compare without it.
            TestEnv.Run("rm", "-rf", Path.Combine(source, "deep")).EnsureSuccess("rm deep");
            TestEnv.Run(TestEnv.FindTool("mksquashfs")!, source, image, "-noappend", "-quiet", "-no-progress").EnsureSuccess("mksquashfs");
        }
        else
        {
            var parts = variant.Split('-');
            SquashFsFile.CreateFromDirectory(source, image, new SquashFsWriterOptions
            {
                Compression = new CompressionOptions { Algorithm = Enum.Parse<SquashFsCompression>(parts[0], ignoreCase: true) },
                BlockSize = int.Parse(parts[1].TrimEnd('K', 'M')) << (parts[1].EndsWith('M') ? 20 : 10),
                NoXattrs = variant.EndsWith("no-xattrs"),
                NoFragments = variant.EndsWith("no-fragments"),
                NoDeduplication = variant.EndsWith("no-dedup"),
                Jobs = 2,
            });
        }

        using var kernel = new KernelMount(image, tmp["kernel"]);
        using var server = MountInProcess(image, tmp["fuse"]);
        var expected = FuseTreeSnapshot.Take(kernel.Path);
        var actual = FuseTreeSnapshot.Take(server.MountPoint);
        FuseTreeSnapshot.AssertEqual(expected, actual, $"{variant}: built-in server vs kernel squashfs");
        Assert.Equal(FuseTreeSnapshot.StatFs(kernel.Path), FuseTreeSnapshot.StatFs(server.MountPoint));
        if (variant != "mksquashfs")
            Assert.Contains(actual, line => line.Contains("/deep/") && line.Contains("leaf"));
        if (!variant.EndsWith("no-xattrs"))
        {
            // And what the source tree holds (the shared treediff cannot walk beyond PATH_MAX).
            FuseTreeSnapshot.AssertEqual(FuseTreeSnapshot.Take(source, portable: true), FuseTreeSnapshot.Take(server.MountPoint, portable: true),
                $"{variant}: built-in server vs source tree");
        }

        // /proc/mounts names the type and the image, and the mount is read-only, nosuid, nodev.
        string mounts = File.ReadAllText("/proc/mounts");
        string line = mounts.Split('\n').Single(l => l.Split(' ').ElementAtOrDefault(1) == server.MountPoint);
        Assert.StartsWith(image + " " + server.MountPoint + " fuse.xar ro,nosuid,nodev", line);
    }

    [SkippableFact]
    public void FileOverFourGibibytesWithHoles()
    {
        RequireMounting();
        using var tmp = new TempDir("fuse-huge");
        string source = tmp["src"];
        Directory.CreateDirectory(source);
        const string script = """
            set -euo pipefail
            cd "$1"
            truncate -s 5G huge
            head -c 100000 /dev/urandom | dd of=huge bs=1M seek=4096 conv=notrunc status=none
            printf 'tail' | dd of=huge bs=1 seek=5368709116 conv=notrunc status=none
            head -c 70000 /dev/urandom > small
            """;
        TestEnv.Run("bash", "-c", script, "huge", source).EnsureSuccess("building the huge file");
        string image = tmp["huge.sqfs"];
        Pack(source, image);

        using var kernel = new KernelMount(image, tmp["kernel"]);
        using var server = MountInProcess(image, tmp["fuse"]);
        FuseTreeSnapshot.AssertEqual(FuseTreeSnapshot.Take(kernel.Path), FuseTreeSnapshot.Take(server.MountPoint), "huge file");
        // Reads that start past 4 GiB, inside the data and in the last block.
        using var a = File.OpenHandle(Path.Combine(source, "huge"));
        using var b = File.OpenHandle(Path.Combine(server.MountPoint, "huge"));
        foreach (long offset in new[] { 4096L << 20, (4096L << 20) + 99_000, 5368709116L - 70_000, 5368709116L })
        {
            var x = new byte[131072];
            var y = new byte[131072];
            int n = RandomAccess.Read(a, x, offset);
            Assert.Equal(n, RandomAccess.Read(b, y, offset));
            Assert.True(x.AsSpan(0, n).SequenceEqual(y.AsSpan(0, n)), $"bytes at {offset}");
        }
    }

    [SkippableFact]
    public void ThirtyTwoParallelReadersSeeEveryByte()
    {
        RequireMounting();
        using var tmp = new TempDir("fuse-parallel");
        string source = tmp["src"];
        Directory.CreateDirectory(source);
        var random = new Random(11);
        var files = new Dictionary<string, byte[]>();
        for (int i = 0; i < 240; i++)
        {
            // Compressible and incompressible, whole blocks and tails, many small files sharing
            // fragment blocks (read by one reader, stored into the page cache for the others).
            int size = i % 20 == 0 ? random.Next(1_000_000, 3_000_000) : i % 4 == 0 ? random.Next(1, 60_000) : random.Next(1, 4000);
            var data = new byte[size];
            if (i % 3 == 0)
                random.NextBytes(data);
            else
                for (int j = 0; j < size; j++)
                    data[j] = (byte)"abcdefgh\n"[(j * 7 + i) % 9];
            string name = $"f{i:D3}";
            File.WriteAllBytes(Path.Combine(source, name), data);
            files[name] = data;
        }
        string image = tmp["parallel.sqfs"];
        Pack(source, image, blockSize: 64 * 1024);
        // Two serving threads, the fewest there are: one may be storing neighbours while the other answers.
        using var server = MountInProcess(image, tmp["fuse"], new FuseServerOptions { Threads = 2, BlockCacheBytes = 1 << 20 });

        for (int round = 0; round < 2; round++)
        {
            if (round == 1)
                File.WriteAllText("/proc/sys/vm/drop_caches", "3"); // the second round starts cold again
            using var start = new Barrier(32);
            var failures = new System.Collections.Concurrent.ConcurrentBag<string>();
            var threads = Enumerable.Range(0, 32).Select(t => new Thread(() =>
            {
                var order = files.Keys.OrderBy(k => HashCode.Combine(k, t, round)).ToList();
                start.SignalAndWait();
                foreach (string name in order)
                {
                    var expected = files[name];
                    using var handle = File.OpenHandle(Path.Combine(server.MountPoint, name));
                    int chunk = 1 + (t * 7919 + name.Length * 131) % 200_000;
                    var buffer = new byte[chunk];
                    long offset = (t * 104729L) % Math.Max(1, expected.Length); // start anywhere, wrap around
                    long done = 0;
                    while (done < expected.Length)
                    {
                        int want = (int)Math.Min(chunk, expected.Length - offset);
                        int n = RandomAccess.Read(handle, buffer.AsSpan(0, want), offset);
                        if (n != want || !buffer.AsSpan(0, n).SequenceEqual(expected.AsSpan((int)offset, n)))
                        {
                            failures.Add($"reader {t}: {name} at {offset}: got {n} bytes, wanted {want}, or different bytes");
                            return;
                        }
                        done += n;
                        offset = (offset + n) % expected.Length;
                    }
                }
            })).ToList();
            threads.ForEach(t => t.Start());
            threads.ForEach(t => t.Join());
            Assert.Empty(failures);
        }
        Assert.Null(server.Failure);
    }

    /// <summary>Who besides the mounting user (root here) gets in: nobody, only root (allow_root), everyone (allow_other).</summary>
    [SkippableTheory]
    [InlineData(FuseAccess.Owner, false)]
    [InlineData(FuseAccess.OwnerAndRoot, false)]
    [InlineData(FuseAccess.Everyone, true)]
    public void AccessForOtherUsers(FuseAccess access, bool othersMayRead)
    {
        RequireMounting();
        TestEnv.RequireTool("setpriv");
        using var tmp = new TempDir("fuse-access");
        TestEnv.Run("chmod", "0755", tmp.Path).EnsureSuccess("chmod");
        string image = SmallImage(tmp);
        using var server = MountInProcess(image, tmp["fuse"], new FuseServerOptions { Access = access });
        Assert.Equal("hello\n", File.ReadAllText(Path.Combine(server.MountPoint, "hello")));
        var r = TestEnv.Run("setpriv", "--reuid=65534", "--regid=65534", "--clear-groups", "cat", Path.Combine(server.MountPoint, "hello"));
        if (othersMayRead)
        {
            Assert.Equal("hello\n", r.EnsureSuccess("cat as nobody").StandardOutput);
        }
        else
        {
            Assert.NotEqual(0, r.ExitCode);
            Assert.Contains("Permission denied", r.StandardError);
        }
        bool allowOther = File.ReadAllText("/proc/mounts").Split('\n').Single(l => l.Split(' ').ElementAtOrDefault(1) == server.MountPoint).Contains("allow_other");
        Assert.Equal(access != FuseAccess.Owner, allowOther);
    }

    /// <summary>
    /// A server whose mount was taken away before its INIT (umount -l by someone else) never unmounts what is at its
    /// mount point later: another server's mount made there since. It used to unmount by path when it had not yet
    /// learnt its device number; now it learns it right after mounting (statx without a request).
    /// </summary>
    [SkippableFact]
    public void AServerWhoseMountWasTakenAwayLeavesTheNextMountThereAlone()
    {
        RequireMounting();
        using var tmp = new TempDir("fuse-taken");
        string image = SmallImage(tmp);
        string mountPoint = tmp["mnt"];
        Directory.CreateDirectory(mountPoint);
        var young = FuseServer.Mount(SquashFsImage.Open(image), mountPoint, new FuseServerOptions { Source = image }); // never started
        TestEnv.Run("umount", "-l", mountPoint).EnsureSuccess("umount -l");
        using var next = MountInProcess(image, mountPoint);
        Assert.Equal("hello\n", File.ReadAllText(Path.Combine(mountPoint, "hello")));

        Assert.Equal(FuseUnmountResult.Failed, young.Unmount(lazy: true, out string? error));
        Assert.Contains("no longer shows this server", error);
        young.Dispose();
        Assert.True(IsMounted(mountPoint), "the young server unmounted the next server's mount");
        Assert.Equal("hello\n", File.ReadAllText(Path.Combine(mountPoint, "hello")));
    }

    [SkippableFact]
    public void CorruptBlockAnswersEioAndTheRestStillReads()
    {
        RequireMounting();
        using var tmp = new TempDir("fuse-corrupt");
        string source = tmp["src"];
        Directory.CreateDirectory(source);
        // "bad" is the only file with whole blocks: its first block is the image's first data block.
        File.WriteAllText(Path.Combine(source, "bad"), string.Concat(Enumerable.Range(0, 40000).Select(i => $"line {i}\n")));
        for (int i = 0; i < 20; i++)
            File.WriteAllText(Path.Combine(source, $"good-{i}"), $"good file {i}\n");
        string image = tmp["corrupt.sqfs"];
        Pack(source, image);
        var bytes = File.ReadAllBytes(image);
        int frame = bytes.AsSpan(96).IndexOf(new byte[] { 0x28, 0xB5, 0x2F, 0xFD }); // zstd frame magic of the first data block
        Assert.True(frame >= 0, "no zstd frame found");
        frame += 96;
        for (int i = frame + 16; i < frame + 80; i++)
            bytes[i] ^= 0x5A;
        File.WriteAllBytes(image, bytes);

        using var kernel = new KernelMount(image, tmp["kernel"]);
        using var server = MountInProcess(image, tmp["fuse"]);
        foreach (string root in new[] { kernel.Path, server.MountPoint })
        {
            var error = Assert.ThrowsAny<IOException>(() => File.ReadAllBytes(Path.Combine(root, "bad")));
            Assert.Contains("Input/output error", error.Message);
        }
        for (int i = 0; i < 20; i++)
            Assert.Equal($"good file {i}\n", File.ReadAllText(Path.Combine(server.MountPoint, $"good-{i}")));
        // And again: the server did not stop at the first bad block.
        Assert.ThrowsAny<IOException>(() => File.ReadAllBytes(Path.Combine(server.MountPoint, "bad")));
        Assert.Equal("good file 3\n", File.ReadAllText(Path.Combine(server.MountPoint, "good-3")));
        Assert.Null(server.Failure);
    }

    /// <summary>
    /// An xattr bomb (1.5 MB: 65536 pairs whose out-of-line values all name one 64 KiB value),
    /// served by a server process: one getxattr or listxattr, even `ls -l` asking security.selinux,
    /// made the server read the whole set into memory, 4 GiB per request. Now it stays small (peak
    /// RSS) under parallel requests, and answers as the kernel's loop mount does: the shared value,
    /// an empty value, no such attribute, a list too long for any buffer.
    /// </summary>
    [SkippableFact]
    public void AnXattrBombKeepsTheServerSmallAndAnswersAsTheKernel()
    {
        RequireMounting();
        TestEnv.RequireTool("getfattr");
        using var tmp = new TempDir("fuse-xattr-bomb");
        const int Pairs = 65536;
        string image = tmp["bomb.sqfs"];
        HostileImages.XattrBomb(tmp.Path, image, Pairs);
        string mountPoint = tmp["mnt"];
        Directory.CreateDirectory(mountPoint);
        using (var handle = File.OpenHandle(image))
            StartServer(handle, 0, mountPoint, timeoutSeconds: 0, FuseAccess.Owner);
        int pid = ServerPid(mountPoint);
        try
        {
            using var kernel = new KernelMount(image, tmp["kernel"]);
            string last = HostileImages.BombName(Pairs - 2, Pairs);
            var value = HostileImages.BombValue();
            foreach (string root in new[] { kernel.Path, mountPoint })
            {
                string bomb = Path.Combine(root, "bomb");
                var ls = TestEnv.Run("ls", "-l", root);
                Assert.True(ls.ExitCode == 0, $"ls -l {root}: {ls.StandardError}");
                Assert.Contains("bomb", ls.StandardOutput);
                Assert.Equal(value, TestEnv.Run("getfattr", "--only-values", "-n", last, bomb).EnsureSuccess("getfattr").StandardOutputBytes);
                Assert.Equal(value, TestEnv.Run("getfattr", "--only-values", "-n", "user.v", bomb).EnsureSuccess("getfattr").StandardOutputBytes);
                Assert.Empty(TestEnv.Run("getfattr", "--only-values", "-n", "user.empty", bomb).EnsureSuccess("getfattr").StandardOutputBytes);
                var missing = TestEnv.Run("getfattr", "-n", "user.missing", bomb);
                Assert.NotEqual(0, missing.ExitCode);
                Assert.Contains("No such attribute", missing.StandardError);
                Assert.Equal(LibC.E2BIG, ListXattrError(bomb, 65536)); // 786 KB of names: more than Linux lists
                Assert.Equal(0, ListXattrError(Path.Combine(root, "plain"), 65536));
            }
            // Parallel requests: each costs its reply at most.
            Parallel.For(0, 16, new ParallelOptions { MaxDegreeOfParallelism = 8 }, i =>
            {
                string bomb = Path.Combine(mountPoint, "bomb");
                if (i % 2 == 0)
                    Assert.Equal(value, TestEnv.Run("getfattr", "--only-values", "-n", HostileImages.BombName(Pairs - 2 - i, Pairs), bomb).EnsureSuccess("getfattr").StandardOutputBytes);
                else
                    Assert.Equal(LibC.E2BIG, ListXattrError(bomb, 65536));
            });
            long peak = PeakRssKib(pid);
            Assert.True(peak < 200 * 1024, $"the server's peak RSS was {peak} KiB");
        }
        finally
        {
            TestEnv.Run("umount", mountPoint);
            WaitFor(() => !ProcessExists(pid), TimeSpan.FromSeconds(5));
        }
    }

    private static unsafe int ListXattrError(string path, int size)
    {
        var buffer = new byte[size];
        fixed (byte* p = NativePath.ToCString(path))
        fixed (byte* b = buffer)
            return LibC.LListXattr(p, b, size) >= 0 ? 0 : LibC.LastError;
    }

    private static long PeakRssKib(int pid)
    {
        string line = File.ReadAllLines($"/proc/{pid}/status").Single(l => l.StartsWith("VmHWM:", StringComparison.Ordinal));
        return long.Parse(line["VmHWM:".Length..].Trim().Split(' ')[0], System.Globalization.CultureInfo.InvariantCulture);
    }

    /// <summary>
    /// A directory with one entry whose inode names a uid index past the id table: `ls` of the
    /// built-in mount showed only the entries before it and `find` stopped there (READDIRPLUS ended
    /// at the bad entry, and every later read failed there with EIO). Now the listing and the walk
    /// are the kernel's loop mount's; only a stat of the bad entry fails (EIO), the others stat fine.
    /// </summary>
    [SkippableFact]
    public void AnEntryWithACorruptInodeIsListedAndOnlyItFails()
    {
        RequireMounting();
        using var tmp = new TempDir("fuse-bad-inode");
        string image = tmp["bad.sqfs"];
        HostileImages.BadOwnerEntry(tmp.Path, image, 20, "f07");
        using var kernel = new KernelMount(image, tmp["kernel"]);
        using var server = MountInProcess(image, tmp["fuse"]);
        var ls = TestEnv.Run("ls", "-1", Path.Combine(kernel.Path, "dir"));
        Assert.Contains("f19", ls.StandardOutput);
        var ours = TestEnv.Run("ls", "-1", Path.Combine(server.MountPoint, "dir"));
        Assert.Equal((ls.ExitCode, ls.StandardOutput), (ours.ExitCode, ours.StandardOutput));
        var kernelFind = TestEnv.Run(new RunOptions("find", ["."]) { WorkingDirectory = kernel.Path });
        var ourFind = TestEnv.Run(new RunOptions("find", ["."]) { WorkingDirectory = server.MountPoint });
        Assert.Contains("./dir/sub/deep", kernelFind.StandardOutput);
        Assert.Equal((kernelFind.ExitCode, kernelFind.StandardOutput), (ourFind.ExitCode, ourFind.StandardOutput));
        string dir = Path.Combine(server.MountPoint, "dir");
        Assert.Equal(LibC.EIO, StatError(Path.Combine(dir, "f07")));
        Assert.NotEqual(0, StatError(Path.Combine(kernel.Path, "dir", "f07")));
        for (int i = 0; i < 20; i++)
            if (i != 7)
                Assert.Equal($"file {i}\n", File.ReadAllText(Path.Combine(dir, $"f{i:D2}")));
        Assert.Equal(0, StatError(Path.Combine(dir, "sub", "deep")));
        Assert.Null(server.Failure);
    }

    private static int StatError(string path) =>
        LibC.StatxAt(LibC.AT_FDCWD, path, LibC.AT_SYMLINK_NOFOLLOW, LibC.STATX_BASIC_STATS, out _) == 0 ? 0 : LibC.LastError;

    [SkippableFact]
    public void DaemonUnmountsItselfWhenIdle()
    {
        RequireMounting();
        using var tmp = new TempDir("fuse-idle");
        string image = SmallImage(tmp);
        string mountPoint = tmp["mnt"];
        Directory.CreateDirectory(mountPoint);
        using (var handle = File.OpenHandle(image))
            StartServer(handle, 0, mountPoint, timeoutSeconds: 2, FuseAccess.Owner);
        Assert.True(IsMounted(mountPoint));
        int pid = ServerPid(mountPoint);
        Assert.Equal("hello\n", File.ReadAllText(Path.Combine(mountPoint, "hello")));

        // In use (a file open) it stays, however long it is idle.
        using (var open = File.OpenHandle(Path.Combine(mountPoint, "hello")))
        {
            Thread.Sleep(4500);
            Assert.True(IsMounted(mountPoint), "unmounted while a file was open");
        }
        Assert.True(WaitFor(() => !IsMounted(mountPoint), TimeSpan.FromSeconds(10)), "still mounted after 2 s idle");
        Assert.True(WaitFor(() => !ProcessExists(pid), TimeSpan.FromSeconds(5)), "the server did not exit");
    }

    [SkippableFact]
    public void DaemonUnmountsOnSigtermAndExitsOnUnmountByOthers()
    {
        RequireMounting();
        using var tmp = new TempDir("fuse-signal");
        string image = SmallImage(tmp);
        string mountPoint = tmp["mnt"];
        Directory.CreateDirectory(mountPoint);
        using (var handle = File.OpenHandle(image))
            StartServer(handle, 0, mountPoint, timeoutSeconds: 0, FuseAccess.Owner);
        int pid = ServerPid(mountPoint);
        Assert.Equal("hello\n", File.ReadAllText(Path.Combine(mountPoint, "hello")));
        Assert.Equal(0, LibC.Kill(pid, LibC.SIGTERM));
        Assert.True(WaitFor(() => !IsMounted(mountPoint), TimeSpan.FromSeconds(10)), "still mounted after SIGTERM");
        Assert.True(WaitFor(() => !ProcessExists(pid), TimeSpan.FromSeconds(5)), "the server did not exit after SIGTERM");

        // umount(8) by someone else: the server notices and exits.
        using (var handle = File.OpenHandle(image))
            StartServer(handle, 0, mountPoint, timeoutSeconds: 0, FuseAccess.Owner);
        pid = ServerPid(mountPoint);
        TestEnv.Run("umount", mountPoint).EnsureSuccess("umount");
        Assert.True(WaitFor(() => !ProcessExists(pid), TimeSpan.FromSeconds(5)), "the server did not exit after umount");
    }

    [SkippableFact]
    public void DaemonReportsWhyItCannotMount()
    {
        RequireMounting();
        using var tmp = new TempDir("fuse-fail");
        string image = SmallImage(tmp);
        File.WriteAllText(tmp["not-an-image"], new string('x', 8192));
        using (var handle = File.OpenHandle(tmp["not-an-image"]))
        {
            var e = Assert.Throws<FuseUnavailableException>(() =>
                StartServer(handle, 0, tmp.Path, 0, FuseAccess.Owner));
            Assert.Contains("hsqs", e.Message);
        }
        using (var handle = File.OpenHandle(image))
        {
            var e = Assert.Throws<FuseUnavailableException>(() =>
                StartServer(handle, 0, tmp["no-such-dir"], 0, FuseAccess.Owner));
            Assert.Contains("No such file or directory", e.Message);
        }
    }
}
