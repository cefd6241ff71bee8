using Xar.SquashFs;
using Xar.SquashFs.Format;
using Xar.Tests;

namespace Xar.Runtime.Tests;

public sealed class XarArchiveTests : IDisposable
{
    private readonly TempDir _tmp = new("xar-archive");

    public void Dispose() => _tmp.Dispose();

    private string BuildImage()
    {
        string source = _tmp["src"];
        Directory.CreateDirectory(Path.Combine(source, "sub"));
        File.WriteAllText(Path.Combine(source, "hello.txt"), "hello\n");
        File.WriteAllText(Path.Combine(source, "sub", "a"), "a\n");
        string image = _tmp["image.sqfs"];
        SquashFsFile.CreateFromDirectory(source, image);
        return image;
    }

    [Fact]
    public void XarFilesOpenByTheirHeaderBareImagesAtZeroAndAnyFileAtAnExplicitOffset()
    {
        byte[] image = File.ReadAllBytes(BuildImage());
        var header = new XarHeader("0123456789abcdef", "1700000000", "run.sh");
        string xar = _tmp["app.xar"];
        File.WriteAllBytes(xar, [.. header.ToBytes(), .. image]);

        using (var archive = XarArchive.Open(xar))
        {
            Assert.Equal("0123456789abcdef", archive.Header!.Uuid);
            Assert.Equal("run.sh", archive.Header.ExecTarget);
            Assert.Equal(4096, archive.Image.ImageOffset);
            Assert.NotNull(archive.Image.GetEntry("sub/a"));
        }
        using (var archive = XarArchive.Open(xar, 4096))
        {
            Assert.Null(archive.Header);
            Assert.NotNull(archive.Image.GetEntry("hello.txt"));
        }
        using (var archive = XarArchive.Open(_tmp["image.sqfs"]))
        {
            Assert.Null(archive.Header);
            Assert.Equal(0, archive.Image.ImageOffset);
        }
        Assert.Throws<SquashFsCorruptException>(() => XarArchive.Open(xar, 0));
        File.WriteAllText(_tmp["text"], "#!/bin/sh\necho not a xar\n");
        Assert.Throws<XarHeaderException>(() => XarArchive.Open(_tmp["text"]));
    }

    [Fact]
    public void TheHeaderAndTheImageComeFromOneOpenFileEvenWhenThePathIsReplaced()
    {
        byte[] image = File.ReadAllBytes(BuildImage());
        string xar = _tmp["app.xar"];
        File.WriteAllBytes(xar, [.. new XarHeader("0123456789abcdef", "1", "run.sh").ToBytes(), .. image]);
        using var handle = File.OpenHandle(xar);
        // A deploy renames another file over the path: the open descriptor still reads the first.
        string other = _tmp["other.xar"];
        File.WriteAllBytes(other, [.. new XarHeader("fedcba9876543210", "2", "run.sh").ToBytes(), .. image]);
        File.Move(other, xar, overwrite: true);
        using var archive = XarArchive.Open(handle, leaveOpen: true);
        Assert.Equal("0123456789abcdef", archive.Header!.Uuid);
        Assert.NotNull(archive.Image.GetEntry("hello.txt"));
        Assert.False(handle.IsClosed);
    }
}
