using System.Text;
using Xar.Runtime.Fuse;
using Xunit;

namespace Xar.Runtime.Tests;

/// <summary>
/// The <c>--fuse-serve</c> command line, read once (<see cref="FuseServeCommandLine"/>) for the steps before the runtime
/// and for Main (<see cref="FuseDaemon.Arguments.Parse"/>), and written once (<see cref="FuseServeCommandLine.Write"/>)
/// for the launch core and <see cref="FuseDaemon.Arguments.ToArgv"/>: what the launch core writes, that every writing
/// reads back the same, and what each fault says.
/// </summary>
public sealed unsafe class FuseServeCommandLineTests
{
    [Fact]
    public void TheLaunchersCommandLineGivesEveryValue()
    {
        var a = Parse("--image-fd", "3", "--ready-fd", "4", "--offset", "4096", "--timeout", "870", "--allow-root",
            "--fsname", "/srv/app.xar", "--threads", "3", "--cache-mib", "32", "--", "/mnt/xarfuse/uid-0/abc-ns-1");
        Assert.NotNull(a);
        Assert.Equal((3, 4, 4096L, 870, "/srv/app.xar", FuseAccess.OwnerAndRoot, 3, 32, false),
            (a.ImageFd, a.ReadyFd, a.Offset, a.TimeoutSeconds, a.FsName, a.Access, a.Threads, a.CacheMiB, a.Foreground));
        Assert.Equal("/mnt/xarfuse/uid-0/abc-ns-1"u8.ToArray(), a.MountPoint);
    }

    [Fact]
    public void DefaultsAndARelativeMountPointMadeAbsolute()
    {
        var a = Parse("--image-fd", "0", "--foreground", "mnt");
        Assert.NotNull(a);
        Assert.Equal((-1, 0L, 0, null as string, FuseAccess.Owner, 0, 16, true),
            (a.ReadyFd, a.Offset, a.TimeoutSeconds, a.FsName, a.Access, a.Threads, a.CacheMiB, a.Foreground));
        Assert.Equal(Encoding.UTF8.GetBytes(Path.Combine(Directory.GetCurrentDirectory(), "mnt")), a.MountPoint);
    }

    [Theory]
    [InlineData("--timeout needs a value", "--image-fd", "3", "--timeout")]
    [InlineData("--offset 12x: not a number", "--image-fd", "3", "--offset", "12x", "/m")]
    [InlineData("--offset -1: not a number", "--image-fd", "3", "--offset", "-1", "/m")]
    [InlineData("--offset 99999999999999999999: not a number", "--image-fd", "3", "--offset", "99999999999999999999", "/m")]
    [InlineData("--offset : not a number", "--image-fd", "3", "--offset", "", "/m")]
    [InlineData("unknown option or bad value: --image-fd 2147483648", "--image-fd", "2147483648", "/m")]
    [InlineData("unknown option or bad value: --threads 0", "--image-fd", "3", "--threads", "0", "/m")]
    [InlineData("unknown option or bad value: --cache-mib 65537", "--image-fd", "3", "--cache-mib", "65537", "/m")]
    [InlineData("unknown option or bad value: --verbose 1", "--image-fd", "3", "--verbose", "1", "/m")]
    [InlineData("expected one mount point after the options", "--image-fd", "3")]
    [InlineData("expected one mount point after the options", "--image-fd", "3", "/a", "/b")]
    [InlineData("expected one mount point after the options", "--image-fd", "3", "--", "/a", "--")]
    [InlineData("--image-fd is required", "--timeout", "1", "/m")]
    [InlineData("the mount point is empty", "--image-fd", "3", "--", "")]
    public void EachFaultSaysWhatIsWrong(string expected, params string[] args)
    {
        Assert.Null(FuseDaemon.Arguments.Parse(args, out string? error));
        Assert.Equal(expected, error);
    }

    [Fact]
    public void WhatToArgvWritesParsesBackTheSame()
    {
        var a = new FuseDaemon.Arguments
        {
            ImageFd = 5, Offset = 1 << 20, TimeoutSeconds = 0, ReadyFd = 7, FsName = "name with space", Access = FuseAccess.Everyone,
            Threads = 2, CacheMiB = 64, Foreground = true, MountPoint = "/m/p"u8.ToArray(),
        };
        string[] argv = [.. a.ToArgv().Skip(1).Select(b => Encoding.UTF8.GetString(b))];
        var back = FuseDaemon.Arguments.Parse(argv, out string? error);
        Assert.Null(error);
        Assert.Equal(a with { MountPoint = [] }, back! with { MountPoint = [] });
        Assert.Equal(a.MountPoint, back.MountPoint);
    }

    private static FuseDaemon.Arguments? Parse(params string[] args)
    {
        var a = FuseDaemon.Arguments.Parse(args, out string? error);
        Assert.True(a is not null, error);
        return a;
    }

    [Fact]
    public void TheLaunchCoresValuesAreWrittenAsTheLauncherHasAlwaysWrittenThem()
    {
        byte[] mount = [.. "/mnt/xarfuse/uid-0/abc-ns-1"u8, 0];
        fixed (byte* m = mount)
        {
            var line = new FuseServeCommandLine
            {
                ImageFd = 3, ReadyFd = 4, Offset = 4096, TimeoutSeconds = 870, Access = FuseAccess.OwnerAndRoot,
                CacheMiB = FuseServeCommandLine.DefaultCacheMiB, MountPoint = m,
            };
            Assert.Equal(["--fuse-serve", "--image-fd", "3", "--ready-fd", "4", "--offset", "4096", "--timeout", "870", "--allow-root",
                "--", "/mnt/xarfuse/uid-0/abc-ns-1"], Written(line).Select(Encoding.UTF8.GetString));
        }
        var managed = new FuseDaemon.Arguments
        {
            ImageFd = 3, ReadyFd = 4, Offset = 4096, TimeoutSeconds = 0, MountPoint = "/m"u8.ToArray(),
        };
        Assert.Equal(["--fuse-serve", "--image-fd", "3", "--ready-fd", "4", "--offset", "4096", "--timeout", "0", "--", "/m"],
            managed.ToArgv().Select(Encoding.UTF8.GetString));
        Assert.Equal(Encoding.ASCII.GetBytes(FuseDaemon.Flag), FuseServeCommandLine.Flag.ToArray());
    }

    /// <summary>
    /// Every combination of options, written by the one writer, reads back as the same values: the mount point
    /// (never taken for an option, whatever it begins with, nor changed, whatever its bytes) and the fsname are the
    /// very pointers given.
    /// </summary>
    [Fact]
    public void EveryCombinationWrittenParsesBackToTheSameValues()
    {
        byte[][] mountPoints = [[.. "/mnt/p"u8, 0], [.. "/mnt/latin1-"u8, 0xe9, 0xff, 0], [.. "-relative"u8, 0], [.. "--"u8, 0],
            [.. "--image-fd"u8, 0], [(byte)'/', 0xe9, 0xff, (byte)'\n', 0]];
        byte[]?[] fsNames = [null, [0], [.. "name with space"u8, 0], [.. "--allow-other"u8, 0], [0xff, 0xfe, 0]];
        byte* text = stackalloc byte[FuseServeCommandLine.TextCapacity];
        byte** argv = stackalloc byte*[FuseServeCommandLine.MaxArguments];
        int count = 0;
        foreach (byte[] mountPoint in mountPoints)
        foreach (byte[]? fsName in fsNames)
        foreach (int readyFd in (int[])[-1, 0, 4])
        foreach (FuseAccess access in (FuseAccess[])[FuseAccess.Owner, FuseAccess.OwnerAndRoot, FuseAccess.Everyone])
        foreach (int threads in (int[])[0, 1, 1024])
        foreach (int cacheMiB in (int[])[FuseServeCommandLine.DefaultCacheMiB, 1, 65536])
        foreach (bool foreground in (bool[])[false, true])
        foreach ((int imageFd, long offset, int timeout) in ((int, long, int)[])[(0, 0, 0), (3, 4096, 870), (int.MaxValue, long.MaxValue, int.MaxValue)])
        {
            fixed (byte* m = mountPoint)
            fixed (byte* f = fsName)
            {
                var line = new FuseServeCommandLine
                {
                    ImageFd = imageFd, Offset = offset, TimeoutSeconds = timeout, ReadyFd = readyFd, FsName = f, Access = access,
                    Threads = threads, CacheMiB = cacheMiB, Foreground = foreground, MountPoint = m,
                };
                int n = line.Write(text, FuseServeCommandLine.TextCapacity, argv, FuseServeCommandLine.MaxArguments);
                Assert.True(n > 0);
                Assert.True(argv[n] == null);
                Assert.True(FuseServeCommandLine.TryParse(n, argv, 1, out var back), $"{back.Fault} at {back.FaultAt}");
                Assert.Equal((imageFd, offset, timeout, readyFd, access, threads, cacheMiB, foreground),
                    (back.ImageFd, back.Offset, back.TimeoutSeconds, back.ReadyFd, back.Access, back.Threads, back.CacheMiB, back.Foreground));
                Assert.True(back.FsName == f);
                Assert.True(back.MountPoint == m);
                count++;
            }
        }
        Assert.Equal(6 * 5 * 3 * 3 * 3 * 3 * 2 * 3, count);
    }

    /// <summary>ToArgv is the writer's command line, copied out: a mount point of any bytes, an fsname like an option.</summary>
    [Fact]
    public void ToArgvIsTheWritersCommandLine()
    {
        var a = new FuseDaemon.Arguments
        {
            ImageFd = 3, ReadyFd = 4, Offset = 4096, TimeoutSeconds = 870, FsName = "-x", Access = FuseAccess.Everyone, Threads = 2,
            CacheMiB = 64, Foreground = true, MountPoint = [(byte)'/', (byte)'-', 0xe9, 0xff],
        };
        byte[][] argv = a.ToArgv();
        byte[] mount = [.. a.MountPoint, 0];
        byte[] fsName = "-x\0"u8.ToArray();
        fixed (byte* m = mount)
        fixed (byte* f = fsName)
        {
            var line = new FuseServeCommandLine
            {
                ImageFd = 3, ReadyFd = 4, Offset = 4096, TimeoutSeconds = 870, FsName = f, Access = FuseAccess.Everyone, Threads = 2,
                CacheMiB = 64, Foreground = true, MountPoint = m,
            };
            Assert.Equal(Written(line), argv);
        }
        Assert.Equal(a.MountPoint, argv[^1]);
    }

    [Theory]
    [InlineData(-1, 0, 0, 0, 16, "/m")]
    [InlineData(3, -1, 0, 0, 16, "/m")]
    [InlineData(3, 0, -1, 0, 16, "/m")]
    [InlineData(3, 0, 0, 1025, 16, "/m")]
    [InlineData(3, 0, 0, -1, 16, "/m")]
    [InlineData(3, 0, 0, 0, 0, "/m")]
    [InlineData(3, 0, 0, 0, 65537, "/m")]
    [InlineData(3, 0, 0, 0, 16, "")]
    public void ValuesTheServerWouldRefuseAreNotWritten(int imageFd, long offset, int timeout, int threads, int cacheMiB, string mountPoint)
    {
        byte[] mount = [.. Encoding.UTF8.GetBytes(mountPoint), 0];
        fixed (byte* m = mount)
        {
            var line = new FuseServeCommandLine
            {
                ImageFd = imageFd, Offset = offset, TimeoutSeconds = timeout, ReadyFd = -1, Threads = threads, CacheMiB = cacheMiB, MountPoint = m,
            };
            byte* text = stackalloc byte[FuseServeCommandLine.TextCapacity];
            byte** argv = stackalloc byte*[FuseServeCommandLine.MaxArguments];
            Assert.Equal(-1, line.Write(text, FuseServeCommandLine.TextCapacity, argv, FuseServeCommandLine.MaxArguments));
        }
        Assert.Throws<ArgumentException>(() => new FuseDaemon.Arguments
        {
            ImageFd = imageFd, Offset = offset, TimeoutSeconds = timeout, Threads = threads, CacheMiB = cacheMiB,
            MountPoint = Encoding.UTF8.GetBytes(mountPoint),
        }.ToArgv());
    }

    [Fact]
    public void TooLittleRoomWritesNothing()
    {
        byte[] mount = "/m\0"u8.ToArray();
        fixed (byte* m = mount)
        {
            var line = new FuseServeCommandLine { ImageFd = 3, ReadyFd = 4, CacheMiB = 16, MountPoint = m };
            byte* text = stackalloc byte[FuseServeCommandLine.TextCapacity];
            byte** argv = stackalloc byte*[FuseServeCommandLine.MaxArguments];
            Assert.Equal(-1, line.Write(text, 20, argv, FuseServeCommandLine.MaxArguments));
            // --fuse-serve --image-fd 3 --ready-fd 4 --offset 0 --timeout 0 -- /m, and the null
            Assert.Equal(-1, line.Write(text, FuseServeCommandLine.TextCapacity, argv, 11));
            Assert.Equal(11, line.Write(text, FuseServeCommandLine.TextCapacity, argv, 12));
        }
    }

    /// <summary>What <see cref="FuseServeCommandLine.Write"/> writes, copied out.</summary>
    private static byte[][] Written(in FuseServeCommandLine line)
    {
        byte* text = stackalloc byte[FuseServeCommandLine.TextCapacity];
        byte** argv = stackalloc byte*[FuseServeCommandLine.MaxArguments];
        int n = line.Write(text, FuseServeCommandLine.TextCapacity, argv, FuseServeCommandLine.MaxArguments);
        Assert.True(n > 0);
        var result = new byte[n][];
        for (int k = 0; k < n; k++)
            result[k] = new ReadOnlySpan<byte>(argv[k], Xar.Runtime.Launching.NativeText.FromCString(argv[k]).Length).ToArray();
        return result;
    }
}
