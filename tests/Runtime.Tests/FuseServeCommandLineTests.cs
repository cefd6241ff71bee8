using System.Text;
using Xar.Runtime.Fuse;
using Xunit;

namespace Xar.Runtime.Tests;

/// <summary>
/// The <c>--fuse-serve</c> command line, read once (<see cref="FuseServeCommandLine"/>) for the steps before the runtime
/// and for Main (<see cref="FuseDaemon.Arguments.Parse"/>): what the launch core writes, and what each fault says.
/// </summary>
public sealed class FuseServeCommandLineTests
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
}
