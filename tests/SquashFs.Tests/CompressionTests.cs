using System.IO.Compression;
using Xar.SquashFs.Compression;
using Xar.SquashFs.Format;
using Xar.Tests;

namespace Xar.SquashFs.Tests;

public class CompressionTests
{
    public static TheoryData<string> WritableCodecs => new() { "gzip", "zstd", "xz", "xz-bcj", "lz4", "lz4-hc" };

    private static CompressionOptions Options(string name) => name switch
    {
        "gzip" => new() { Algorithm = SquashFsCompression.Gzip },
        "zstd" => new() { Algorithm = SquashFsCompression.Zstd },
        "xz" => new() { Algorithm = SquashFsCompression.Xz },
        "xz-bcj" => new() { Algorithm = SquashFsCompression.Xz, XzFilters = XzFilters.X86 | XzFilters.Arm },
        "lz4" => new() { Algorithm = SquashFsCompression.Lz4 },
        "lz4-hc" => new() { Algorithm = SquashFsCompression.Lz4, Lz4HighCompression = true },
        _ => throw new ArgumentException(name),
    };

    private static byte[] Compressible(int size)
    {
        var text = "The quick brown fox jumps over the lazy dog. 0123456789\n"u8;
        var data = new byte[size];
        for (int i = 0; i < size; i++)
            data[i] = text[i % text.Length];
        data[size / 2] ^= 0x55; // not perfectly periodic
        return data;
    }

    [Theory]
    [MemberData(nameof(WritableCodecs))]
    public void RoundTripsCompressibleBlocks(string codec)
    {
        var options = Options(codec);
        using var c = CompressorFactory.CreateCompressor(options, 131072);
        using var d = CompressorFactory.CreateDecompressor(options.Algorithm, CompressorFactory.EncodeOptions(options, 131072));
        foreach (int size in new[] { 1, 100, 4096, 8192, 131072 })
        {
            var data = Compressible(size);
            var packed = new byte[size];
            int n = c.Compress(data, packed);
            if (size >= 4096)
                Assert.InRange(n, 1, size / 4);
            if (n == 0)
                continue;
            var back = new byte[size];
            Assert.Equal(size, d.Decompress(packed.AsSpan(0, n), back));
            Assert.Equal(data, back);
        }
    }

    [Fact]
    public void GzipHonoursEveryLevelAndWritesPlainZlibStreams()
    {
        // Text with some structure, so levels differ.
        var seed = System.Text.Encoding.UTF8.GetBytes(string.Join('\n', Enumerable.Range(0, 12000).Select(i => $"line {i * 7919 % 1000} of {i % 37} words {i * i % 101}")));
        var data = seed.AsSpan(0, 131072).ToArray();
        var sizes = new int[10];
        for (int level = 1; level <= 9; level++)
        {
            var options = new CompressionOptions { Algorithm = SquashFsCompression.Gzip, Level = level };
            using var c = CompressorFactory.CreateCompressor(options, 131072);
            var packed = new byte[data.Length];
            sizes[level] = c.Compress(data, packed);
            Assert.InRange(sizes[level], 1, data.Length / 2);
            // Any zlib reader takes it: the runtime's ZLibStream, independent of our decompressor.
            using var z = new ZLibStream(new MemoryStream(packed, 0, sizes[level]), CompressionMode.Decompress);
            var back = new MemoryStream();
            z.CopyTo(back);
            Assert.Equal(data, back.ToArray());
        }
        Assert.True(sizes[9] < sizes[1], $"level 9 ({sizes[9]} bytes) should beat level 1 ({sizes[1]})");
    }

    [Theory]
    [MemberData(nameof(WritableCodecs))]
    public void IncompressibleBlocksReportNotSmaller(string codec)
    {
        var data = new byte[65536];
        new Random(7).NextBytes(data);
        using var c = CompressorFactory.CreateCompressor(Options(codec), 131072);
        Assert.Equal(0, c.Compress(data, new byte[data.Length]));
    }

    [Theory]
    [MemberData(nameof(WritableCodecs))]
    public void OutputLargerThanDestinationIsCorruptNotOverflow(string codec)
    {
        var options = Options(codec);
        var data = Compressible(8192);
        using var c = CompressorFactory.CreateCompressor(options, 131072);
        var packed = new byte[8192];
        int n = c.Compress(data, packed);
        using var d = CompressorFactory.CreateDecompressor(options.Algorithm, CompressorFactory.EncodeOptions(options, 131072));
        var small = new byte[8191 + 16];
        Assert.Throws<SquashFsCorruptException>(() => d.Decompress(packed.AsSpan(0, n), small.AsSpan(0, 8191)));
        Assert.All(small.AsSpan(8191).ToArray(), b => Assert.Equal(0, b)); // nothing written past the span
    }

    [Theory]
    [InlineData(SquashFsCompression.Gzip)]
    [InlineData(SquashFsCompression.Zstd)]
    [InlineData(SquashFsCompression.Xz)]
    [InlineData(SquashFsCompression.Lz4)]
    [InlineData(SquashFsCompression.Lzo)]
    [InlineData(SquashFsCompression.Lzma)]
    public void GarbageAndMutatedBlocksThrowOnlyCorrupt(SquashFsCompression algorithm)
    {
        var rng = new Random(1234);
        var lz4Options = algorithm == SquashFsCompression.Lz4 ? Lz4Options() : [];
        using var d = CompressorFactory.CreateDecompressor(algorithm, lz4Options);
        byte[]? valid = null;
        if (CompressorFactory.CanWrite(algorithm))
        {
            using var c = CompressorFactory.CreateCompressor(new CompressionOptions { Algorithm = algorithm }, 131072);
            var buf = new byte[8192];
            valid = buf.AsSpan(0, c.Compress(Compressible(8192), buf)).ToArray();
        }
        var output = new byte[8192];
        for (int i = 0; i < 3000; i++)
        {
            byte[] input;
            if (valid is not null && i % 2 == 0)
            {
                input = (byte[])valid.Clone();
                for (int f = rng.Next(1, 4); f > 0; f--)
                    input[rng.Next(input.Length)] ^= (byte)(1 << rng.Next(8));
                if (rng.Next(3) == 0)
                    input = input.AsSpan(0, rng.Next(input.Length)).ToArray();
            }
            else
            {
                input = new byte[rng.Next(0, 300)];
                rng.NextBytes(input);
            }
            try
            {
                int n = d.Decompress(input, output);
                Assert.InRange(n, 0, output.Length);
            }
            catch (SquashFsCorruptException)
            {
            }
        }
    }

    private static byte[] Lz4Options() => CompressorFactory.EncodeOptions(new CompressionOptions { Algorithm = SquashFsCompression.Lz4 }, 131072);

    [Fact]
    public void OptionsBlocksFollowMksquashfsDefaults()
    {
        Assert.Empty(CompressorFactory.EncodeOptions(new() { Algorithm = SquashFsCompression.Gzip }, 131072));
        Assert.Empty(CompressorFactory.EncodeOptions(new() { Algorithm = SquashFsCompression.Zstd }, 131072));
        Assert.Empty(CompressorFactory.EncodeOptions(new() { Algorithm = SquashFsCompression.Xz }, 131072));
        Assert.Equal(new byte[] { 1, 0, 0, 0, 0, 0, 0, 0 }, CompressorFactory.EncodeOptions(new() { Algorithm = SquashFsCompression.Lz4 }, 131072));
        Assert.Equal(new byte[] { 1, 0, 0, 0, 1, 0, 0, 0 }, CompressorFactory.EncodeOptions(new() { Algorithm = SquashFsCompression.Lz4, Lz4HighCompression = true }, 131072));
        Assert.Equal(new byte[] { 19, 0, 0, 0 }, CompressorFactory.EncodeOptions(new() { Algorithm = SquashFsCompression.Zstd, Level = 19 }, 131072));
        Assert.Equal(new byte[] { 6, 0, 0, 0, 15, 0, 0, 0 }, CompressorFactory.EncodeOptions(new() { Algorithm = SquashFsCompression.Gzip, Level = 6 }, 131072));
        var xz = CompressorFactory.EncodeOptions(new() { Algorithm = SquashFsCompression.Xz, XzDictionarySize = 65536, XzFilters = XzFilters.X86 }, 131072);
        Assert.Equal(new byte[] { 0, 0, 1, 0, 1, 0, 0, 0 }, xz);
        var back = CompressorFactory.DecodeOptions(SquashFsCompression.Xz, xz, 131072);
        Assert.Equal(65536, back.XzDictionarySize);
        Assert.Equal(XzFilters.X86, back.XzFilters);
    }

    [Theory]
    [InlineData(SquashFsCompression.Zstd, new byte[] { 0, 0, 0, 0 })]
    [InlineData(SquashFsCompression.Zstd, new byte[] { 23, 0, 0, 0 })]
    [InlineData(SquashFsCompression.Gzip, new byte[] { 9, 0, 0, 0, 16, 0, 0, 0 })]
    [InlineData(SquashFsCompression.Xz, new byte[] { 0, 0x50, 0, 0, 0, 0, 0, 0 })]
    [InlineData(SquashFsCompression.Lz4, new byte[] { 2, 0, 0, 0, 0, 0, 0, 0 })]
    [InlineData(SquashFsCompression.Lz4, new byte[] { })]
    [InlineData(SquashFsCompression.Lzma, new byte[] { 1, 2, 3, 4 })]
    public void RejectsBadOptionsBlocks(SquashFsCompression algorithm, byte[] payload) =>
        Assert.Throws<SquashFsCorruptException>(() => CompressorFactory.DecodeOptions(algorithm, payload, 131072));

    [Fact]
    public void RejectsOutOfRangeSettings()
    {
        Assert.Throws<ArgumentException>(() => CompressorFactory.CreateCompressor(new() { Algorithm = SquashFsCompression.Gzip, Level = 10 }, 131072));
        Assert.Throws<ArgumentException>(() => CompressorFactory.CreateCompressor(new() { Algorithm = SquashFsCompression.Zstd, Level = 23 }, 131072));
        Assert.Throws<ArgumentException>(() => CompressorFactory.CreateCompressor(new() { Algorithm = SquashFsCompression.Xz, XzDictionarySize = 5000 }, 131072));
        Assert.Throws<ArgumentException>(() => CompressorFactory.CreateCompressor(new() { Algorithm = SquashFsCompression.Lzo }, 131072));
    }

    [Fact]
    public void GzipBlocksAreZlibStreamsThatPythonReads()
    {
        // A real peer for the block format: CPython's zlib (the C library) inflates our block.
        TestEnv.RequireTool("python3");
        var data = Compressible(131072);
        using var c = CompressorFactory.CreateCompressor(new() { Algorithm = SquashFsCompression.Gzip }, 131072);
        var packed = new byte[data.Length];
        int n = c.Compress(data, packed);
        using var dir = new TempDir("gz");
        File.WriteAllBytes(dir["block"], packed.AsSpan(0, n).ToArray());
        var r = TestEnv.Run("python3", "-c", "import sys,zlib,hashlib; print(hashlib.sha256(zlib.decompress(open(sys.argv[1],'rb').read())).hexdigest())", dir["block"]);
        r.EnsureSuccess("python zlib");
        Assert.Equal(Convert.ToHexStringLower(System.Security.Cryptography.SHA256.HashData(data)), r.StandardOutput.Trim());
    }

    [SkippableFact]
    public void XzBlocksAreXzStreamsThatXzUtilsReads()
    {
        TestEnv.RequireTool("xz");
        var data = Compressible(131072);
        using var c = CompressorFactory.CreateCompressor(new() { Algorithm = SquashFsCompression.Xz, XzFilters = XzFilters.X86 }, 131072);
        var packed = new byte[data.Length];
        int n = c.Compress(data, packed);
        using var dir = new TempDir("xz");
        File.WriteAllBytes(dir["block.xz"], packed.AsSpan(0, n).ToArray());
        TestEnv.Run("xz", "-d", "-k", dir["block.xz"]).EnsureSuccess("xz -d");
        Assert.Equal(data, File.ReadAllBytes(dir["block"]));
    }
}
