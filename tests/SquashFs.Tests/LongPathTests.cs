using System.Text;
using Xar.Posix;
using Xar.Tests;
using Xunit;

namespace Xar.SquashFs.Tests;

public sealed unsafe class LongPathTests
{
    private static readonly string Level = new('d', 250);

    /// <summary>TEMP/d…d/d…d/… (20 levels, 5 KB) holding a 5-byte file "leaf"; returns the relative path of the file.</summary>
    private static string MakeDeepFile(string root)
    {
        int fd = OpenDirectory(LibC.AT_FDCWD, root);
        Assert.True(fd >= 0);
        var relative = new StringBuilder();
        for (int i = 0; i < 20; i++)
        {
            Assert.Equal(0, MakeDirectory(fd, Level));
            int next = OpenDirectory(fd, Level);
            LibC.Close(fd);
            Assert.True(next >= 0);
            fd = next;
            relative.Append(Level).Append('/');
        }
        int file = CreateFile(fd, "leaf");
        Assert.True(file >= 0);
        fixed (byte* b = "hello"u8)
            Assert.Equal(5, (int)LibC.Pwrite(file, b, 5, 0));
        LibC.Close(file);
        LibC.Close(fd);
        return relative.Append("leaf").ToString();
    }

    private static int OpenDirectory(int dirFd, string name)
    {
        fixed (byte* n = Encoding.UTF8.GetBytes(name + "\0"))
            return LibC.OpenAt(dirFd, n, LibC.O_RDONLY | LibC.O_DIRECTORY, 0);
    }

    private static int MakeDirectory(int dirFd, string name)
    {
        fixed (byte* n = Encoding.UTF8.GetBytes(name + "\0"))
            return LibC.MkdirAt(dirFd, n, 0x1C0);
    }

    private static int CreateFile(int dirFd, string name)
    {
        fixed (byte* n = Encoding.UTF8.GetBytes(name + "\0"))
            return LibC.OpenAt(dirFd, n, LibC.O_WRONLY | LibC.O_CREAT, 0x1A4);
    }

    private static long? SizeOf(LongPath path)
    {
        LibC.Statx st;
        fixed (byte* p = path.CString)
            return LibC.StatxAt(path.DirectoryFd, p, LibC.AT_SYMLINK_NOFOLLOW, LibC.STATX_BASIC_STATS, &st) == 0 ? (long)st.Size : null;
    }

    [Fact]
    public void ShortAbsolutePathsPassAsTheyAre()
    {
        using var path = LongPath.For("/etc/hostname"u8);
        Assert.Equal("/etc/hostname\0"u8.ToArray(), path.CString);
        Assert.Equal(LibC.AT_FDCWD, path.DirectoryFd);
    }

    [Fact]
    public void PathsBeyondPathMaxReachTheirFile()
    {
        using var dir = new TempDir("longpath");
        string relative = MakeDeepFile(dir.Path);
        byte[] absolute = Encoding.UTF8.GetBytes(dir.Path + "/" + relative);
        Assert.True(absolute.Length > LongPath.PathMax);

        using (var path = LongPath.For(absolute))
        {
            Assert.StartsWith("/proc/self/fd/", Encoding.ASCII.GetString(path.CString));
            Assert.Equal(LibC.AT_FDCWD, path.DirectoryFd);
            Assert.Equal(5, SizeOf(path));
        }

        int rootFd = OpenDirectory(LibC.AT_FDCWD, dir.Path);
        try
        {
            using (var below = LongPath.For(Encoding.UTF8.GetBytes(relative), rootFd))
                Assert.Equal(5, SizeOf(below));
            // A short path below a directory descriptor stays as it is, for an *at call on that descriptor.
            using (var shortBelow = LongPath.For(Encoding.UTF8.GetBytes(Level), rootFd))
            {
                Assert.Equal(rootFd, shortBelow.DirectoryFd);
                Assert.Equal(Encoding.UTF8.GetBytes(Level + "\0"), shortBelow.CString);
                Assert.NotNull(SizeOf(shortBelow));
            }
            // A missing directory on the way: the caller's call fails instead of reaching something else.
            byte[] missing = Encoding.UTF8.GetBytes(relative.Replace(Level + "/" + Level + "/leaf", "missing/" + Level + "/leaf"));
            using (var broken = LongPath.For(missing, rootFd))
                Assert.Null(SizeOf(broken));
        }
        finally
        {
            LibC.Close(rootFd);
        }
    }
}
