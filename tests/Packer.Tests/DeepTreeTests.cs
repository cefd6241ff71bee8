using System.Runtime.Versioning;
using System.Text;
using Xar.Posix;
using Xar.SquashFs.Format;
using Xar.Tests;

namespace Xar.Packer.Tests;

/// <summary>
/// A tree far deeper than PATH_MAX allows to name in one path (10,000 levels, 20 KB to the leaf):
/// every command reads what `xar pack` writes (ls, verify, cat, extract), and so does the launcher's
/// extraction. One limit, <see cref="SquashFsConstants.MaxDirectoryDepth"/>, holds for all of them.
/// </summary>
[SupportedOSPlatform("linux")]
public class DeepTreeTests
{
    private const int Depth = 10_000;
    private const string Leaf = "deep leaf\n";

    /// <summary>SRC/d/d/.../d/leaf, <see cref="Depth"/> directories below SRC, made by descriptors (the path is beyond PATH_MAX), and SRC/run.sh.</summary>
    private static unsafe void MakeTree(string src)
    {
        Directory.CreateDirectory(src);
        TestXar.WriteExecutable(Path.Combine(src, "run.sh"), "#!/bin/sh\necho ran from the deep image\n");
        int fd;
        fixed (byte* p = NativePath.ToCString(src))
            fd = LibC.OpenAt(LibC.AT_FDCWD, p, LibC.O_RDONLY | LibC.O_DIRECTORY | LibC.O_CLOEXEC, 0);
        Assert.True(fd >= 0);
        fixed (byte* d = "d\0"u8)
            for (int i = 0; i < Depth; i++)
            {
                Assert.Equal(0, LibC.MkdirAt(fd, d, 0x1ED));
                int next = LibC.OpenAt(fd, d, LibC.O_RDONLY | LibC.O_DIRECTORY | LibC.O_CLOEXEC, 0);
                LibC.Close(fd);
                Assert.True(next >= 0);
                fd = next;
            }
        fixed (byte* leaf = "leaf\0"u8)
        {
            int file = LibC.OpenAt(fd, leaf, LibC.O_WRONLY | LibC.O_CREAT | LibC.O_EXCL | LibC.O_CLOEXEC, 0x1A4);
            LibC.Close(fd);
            Assert.True(file >= 0);
            byte[] bytes = Encoding.ASCII.GetBytes(Leaf);
            fixed (byte* b = bytes)
                Assert.Equal(bytes.Length, (int)LibC.Write(file, b, bytes.Length));
            LibC.Close(file);
        }
    }

    /// <summary>
    /// Follows "d" down from <paramref name="root"/> by descriptors (the tree comparer recurses, and
    /// paths this long cannot be opened): how many levels there are, and the leaf's text.
    /// </summary>
    private static unsafe (int Levels, string Leaf) ReadDown(string root)
    {
        int fd;
        fixed (byte* p = NativePath.ToCString(root))
            fd = LibC.OpenAt(LibC.AT_FDCWD, p, LibC.O_RDONLY | LibC.O_DIRECTORY | LibC.O_CLOEXEC, 0);
        Assert.True(fd >= 0);
        int levels = 0;
        fixed (byte* d = "d\0"u8)
            while (true)
            {
                int next = LibC.OpenAt(fd, d, LibC.O_RDONLY | LibC.O_DIRECTORY | LibC.O_NOFOLLOW | LibC.O_CLOEXEC, 0);
                if (next < 0)
                    break;
                LibC.Close(fd);
                fd = next;
                levels++;
            }
        var buffer = new byte[100];
        nint n;
        fixed (byte* leaf = "leaf\0"u8)
        fixed (byte* b = buffer)
        {
            int file = LibC.OpenAt(fd, leaf, LibC.O_RDONLY | LibC.O_NOFOLLOW | LibC.O_CLOEXEC, 0);
            LibC.Close(fd);
            Assert.True(file >= 0, "no leaf");
            n = LibC.Read(file, b, buffer.Length);
            LibC.Close(file);
        }
        return (levels, Encoding.ASCII.GetString(buffer, 0, (int)n));
    }

    private static string LeafPath => string.Join('/', Enumerable.Repeat("d", Depth)) + "/leaf";

    [Fact]
    public void EveryCommandReadsATenThousandLevelTreeItPacked()
    {
        using var dir = new TempDir("deep");
        string src = dir["src"], xar = dir["deep.xar"];
        MakeTree(src);
        XarCli.Run("pack", src, "-o", xar, "--exec", "run.sh", "-q").EnsureSuccess("pack");

        var ls = XarCli.Run("ls", xar).EnsureSuccess("ls");
        string[] lines = Encoding.UTF8.GetString(ls.StandardOutputBytes).Split('\n', StringSplitOptions.RemoveEmptyEntries);
        Assert.Equal(Depth + 4, lines.Length); // the root, the directories, the leaf, run.sh, the bootstrap
        Assert.Equal("squashfs-root/" + LeafPath, lines[Depth + 1]);

        var verify = XarCli.Run("verify", xar).EnsureSuccess("verify");
        Assert.Contains($"({Depth + 1} directories, 3 files", verify.StandardOutput);

        Assert.Equal(Leaf, XarCli.Run("cat", xar, LeafPath).EnsureSuccess("cat").StandardOutput);

        XarCli.Run("extract", xar, "-o", dir["out"], "-q").EnsureSuccess("extract");
        Assert.Equal((Depth, Leaf), ReadDown(dir["out"]));

        // The launcher's extraction path (no FUSE asked for): the cache entry is the whole tree.
        using var sandbox = new LauncherSandbox();
        var run = sandbox.Run(xar, [], extract: true);
        Assert.True(run.ExitCode == 0, $"exit {run.ExitCode}: {run.StandardError}");
        Assert.Equal("ran from the deep image\n", run.StandardOutput);
        string entry = Directory.GetDirectories(sandbox.CacheDir).Single();
        Assert.Equal((Depth, Leaf), ReadDown(entry));
    }
}
