using Xar.Posix;
using Xar.Tests;

namespace Xar.SquashFs.Tests;

/// <summary>
/// A source file replaced after the scan saw it: packing fails with "changed while packing", never
/// blocks (a FIFO opened for reading waits for a writer), never packs the other file, and leaves
/// nothing in the output directory. The swap happens in the progress callback, which runs on the
/// packing thread after the first file's data and before the second file is opened.
/// </summary>
public class WritingChangedSourceTests
{
    private static readonly DateTime Fixed = new(2020, 1, 1, 0, 0, 0, DateTimeKind.Utc);

    private static unsafe int MkFifo(string path)
    {
        fixed (byte* p = NativePath.ToCString(System.Text.Encoding.UTF8.GetBytes(path)))
            return LibC.MknodAt(LibC.AT_FDCWD, p, LibC.S_IFIFO | 0x1A4, 0);
    }

    /// <summary>Packs SRC (files a and b) into OUT/image.sqfs, running <paramref name="swap"/> once b is next: the exception, within a bounded time.</summary>
    private static SourceTreeException PackSwappingSecondFile(TempDir dir, Action<string> swap)
    {
        string src = dir["src"], outDir = dir["out"];
        Directory.CreateDirectory(src);
        Directory.CreateDirectory(outDir);
        File.WriteAllText(Path.Combine(src, "a"), "first\n");
        File.WriteAllText(Path.Combine(src, "b"), "second\n");
        File.SetLastWriteTimeUtc(Path.Combine(src, "b"), Fixed);
        bool swapped = false;
        var options = new SquashFsWriterOptions
        {
            Jobs = 1,
            Progress = p =>
            {
                if (p.FilesDone == 1 && !swapped)
                {
                    swapped = true;
                    swap(Path.Combine(src, "b"));
                }
            },
        };
        var pack = Task.Run(() => SquashFsFile.CreateFromDirectory(src, Path.Combine(outDir, "image.sqfs"), options));
        bool ended = ((IAsyncResult)pack).AsyncWaitHandle.WaitOne(TimeSpan.FromSeconds(30));
        if (!ended)
        {
            // Blocked in open(2): give the FIFO a writer so the test ends (and fails) instead of hanging.
            using var writer = new FileStream(Path.Combine(src, "b"), FileMode.Open, FileAccess.Write);
            Assert.Fail("packing blocked on the FIFO");
        }
        Assert.True(swapped, "the swap never ran");
        var e = Assert.IsType<SourceTreeException>(Assert.IsType<AggregateException>(pack.Exception).InnerException);
        Assert.Equal(Path.Combine(src, "b"), e.Path);
        Assert.False(e.IsBadInput);
        Assert.Empty(Directory.GetFileSystemEntries(outDir)); // neither the image nor its temporary file
        return e;
    }

    [Fact]
    public void AFileReplacedByAFifoAfterTheScanFailsWithoutBlocking()
    {
        using var dir = new TempDir("fifo-swap");
        var e = PackSwappingSecondFile(dir, b =>
        {
            File.Delete(b);
            Assert.Equal(0, MkFifo(b));
        });
        Assert.Equal("changed while packing: it is now a FIFO, not the regular file scanned", e.Message);
    }

    [Fact]
    public void AFileReplacedByAnotherOfTheSameSizeAndTimeFails()
    {
        using var dir = new TempDir("inode-swap");
        var e = PackSwappingSecondFile(dir, b =>
        {
            string other = b + ".new";
            File.WriteAllText(other, "SECOND\n");
            File.SetLastWriteTimeUtc(other, Fixed);
            File.Move(other, b, overwrite: true);
        });
        Assert.Equal("changed while packing: it is now another file (another inode)", e.Message);
    }

    [Fact]
    public void AFileReplacedByASymbolicLinkFails()
    {
        using var dir = new TempDir("link-swap");
        var e = PackSwappingSecondFile(dir, b =>
        {
            File.Delete(b);
            File.CreateSymbolicLink(b, "a");
        });
        Assert.Equal("changed while packing: it is now a symbolic link, not the regular file scanned", e.Message);
    }
}
