using System.Text;
using Xar.SquashFs.Format;
using Xar.SquashFs;
using Xar.Tests;

namespace Xar.SquashFs.Tests;

/// <summary>The public reading API on an image mksquashfs made of a small tree.</summary>
[System.Runtime.Versioning.UnsupportedOSPlatform("windows")]
public sealed class ReadingApiTests : IDisposable
{
    private readonly TempDir _tmp = new("reading-api");
    private readonly string _tree;
    private readonly string _image;

    public ReadingApiTests()
    {
        _tree = _tmp["tree"];
        _image = _tmp["image.sqfs"];
    }

    public void Dispose() => _tmp.Dispose();

    private byte[] Build(params string[] options)
    {
        ReadingTestImages.MakeSmallTree(_tree);
        return ReadingTestImages.MkSquashFs(_tree, _image, ["-b", "4K", .. options]);
    }

    [SkippableFact]
    public void EntriesCarryTheirMetadata()
    {
        Build();
        using var image = SquashFsImage.Open(_image);
        Assert.Equal(4096u, image.Superblock.BlockSize);
        Assert.Equal(SquashFsCompression.Gzip, image.CompressionOptions.Algorithm);
        Assert.Equal(SquashFsEntryType.Directory, image.Root.EntryType);
        Assert.Equal("", image.Root.FullName);

        var names = image.EnumerateDirectory(image.Root).Select(e => e.Name).ToList();
        Assert.Equal(names.OrderBy(n => n, StringComparer.Ordinal), names);
        Assert.Contains("fifo", names);

        var hello = image.GetEntry("hello.txt")!;
        Assert.Equal(SquashFsEntryType.RegularFile, hello.EntryType);
        Assert.Equal(13, hello.Length);
        Assert.Equal(1700000000u, hello.ModificationTimeSeconds);
        Assert.Equal(DateTimeOffset.FromUnixTimeSeconds(1700000000), hello.Mtime);
        Assert.Equal(2u, hello.HardLinkCount);
        Assert.Equal(image.GetEntry("hello-hard")!.InodeNumber, hello.InodeNumber);
        Assert.Equal(File.GetUnixFileMode(Path.Combine(_tree, "hello.txt")), hello.Mode);
        if (TestEnv.FindTool("setfattr") is not null)
        {
            var x = Assert.Single(image.GetXattrs(hello));
            Assert.Equal("user.comment", x.Name);
            Assert.Equal("a value", Encoding.UTF8.GetString(x.Value));
        }

        var link = image.GetEntry("link")!;
        Assert.Equal(SquashFsEntryType.SymbolicLink, link.EntryType);
        Assert.Equal("sub/a", link.LinkName);
        Assert.Equal(SquashFsEntryType.Fifo, image.GetEntry("/fifo")!.EntryType);
        Assert.Equal("sub/deeper/b", image.GetEntry("sub/./deeper//b")!.FullName);
        Assert.Null(image.GetEntry("missing"));
        Assert.Null(image.GetEntry("hello.txt/x"));
    }

    [SkippableFact]
    public void SymlinksAreFollowedOnlyWhenAsked()
    {
        Build();
        using var image = SquashFsImage.Open(_image);
        Assert.Equal(SquashFsEntryType.SymbolicLink, image.GetEntry("link")!.EntryType);
        Assert.Equal("sub/a", image.GetEntry("link", followSymlinks: true)!.FullName);
        Assert.Null(image.GetEntry("dirlink/deeper/b"));
        Assert.Equal("sub/deeper/b", image.GetEntry("dirlink/deeper/b", followSymlinks: true)!.FullName);
    }

    [SkippableTheory]
    [InlineData("")]
    [InlineData("-no-fragments")]
    [InlineData("-comp zstd -always-use-fragments")]
    public void FileStreamsSeekAndReadExactly(string options)
    {
        Build(options.Split(' ', StringSplitOptions.RemoveEmptyEntries));
        using var image = SquashFsImage.Open(_image);
        var rng = new Random(3);
        foreach (var name in new[] { "blocks.bin", "sparse.bin", "text.txt", "hello.txt", "sub/deeper/b" })
        {
            byte[] expected = File.ReadAllBytes(Path.Combine(_tree, name));
            using var s = image.OpenRead(image.GetEntry(name)!);
            Assert.True(s.CanSeek);
            Assert.Equal(expected.Length, s.Length);
            var all = new MemoryStream();
            s.CopyTo(all);
            Assert.Equal(expected, all.ToArray());
            for (int i = 0; i < 50; i++)
            {
                int at = rng.Next(expected.Length);
                int count = rng.Next(1, 9000);
                s.Position = at;
                var buffer = new byte[count];
                int n = s.ReadAtLeast(buffer, count, throwOnEndOfStream: false);
                Assert.Equal(Math.Min(count, expected.Length - at), n);
                Assert.True(buffer.AsSpan(0, n).SequenceEqual(expected.AsSpan(at, n)), $"{name} at {at}");
            }
        }
        Assert.Throws<ArgumentException>(() => image.OpenRead(image.Root));
    }

    [SkippableFact]
    public void ImagesOpenAtAnOffsetByPathHandleAndStream()
    {
        byte[] bytes = Build();
        byte[] prefix = new byte[4096];
        new Random(7).NextBytes(prefix);
        string file = _tmp["prefixed"];
        File.WriteAllBytes(file, [.. prefix, .. bytes]);
        using (var image = SquashFsImage.Open(file, 4096))
        {
            Assert.Equal(4096, image.ImageOffset);
            Assert.NotNull(image.GetEntry("sub/a"));
        }
        using (var handle = File.OpenHandle(file))
        {
            using (var image = SquashFsImage.Open(handle, 4096, leaveOpen: true))
                Assert.NotNull(image.GetEntry("hello.txt"));
            Assert.False(handle.IsClosed);
        }
        using (var stream = new MemoryStream(File.ReadAllBytes(file)))
        {
            using (var image = SquashFsImage.Open(stream, 4096, leaveOpen: true))
                Assert.NotNull(image.GetEntry("hello.txt"));
            Assert.True(stream.CanRead);
        }
        Assert.Throws<SquashFsCorruptException>(() => SquashFsImage.Open(file));
        File.WriteAllText(_tmp["short"], "hsqs");
        Assert.Throws<SquashFsCorruptException>(() => SquashFsImage.Open(_tmp["short"]));
    }

    [SkippableFact]
    public void VerifyCountsEverything()
    {
        Build();
        using var image = SquashFsImage.Open(_image);
        var report = image.Verify();
        Assert.Equal(image.Superblock.InodeCount, (uint)report.Inodes);
        Assert.Equal(3, report.Directories); // root, sub, sub/deeper
        Assert.Equal(2, report.Symlinks);
        Assert.Equal(1, report.Others);
    }
}
