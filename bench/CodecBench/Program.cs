using System.Diagnostics;
using System.IO.Compression;
using System.Runtime.InteropServices;
using ICSharpCode.SharpZipLib.Zip.Compression;
using K4os.Compression.LZ4;
using Xar.SquashFs.Compression;
using Xar.SquashFs.Format;

// Usage: CodecBench DIR [MAX_MB]  - reads regular files under DIR into 128 KiB blocks (up to MAX_MB,
// default 64) and prints, per candidate library: compression MB/s, decompression MB/s, ratio.
string dir = args.Length > 0 ? args[0] : throw new ArgumentException("usage: CodecBench DIR [MAX_MB]");
long max = (args.Length > 1 ? long.Parse(args[1]) : 64) << 20;
const int BlockSize = 128 * 1024;

var blocks = new List<byte[]>();
long total = 0;
var pending = new MemoryStream();
foreach (var file in Directory.EnumerateFiles(dir, "*", new EnumerationOptions { RecurseSubdirectories = true, AttributesToSkip = 0 }).Order(StringComparer.Ordinal))
{
    if (total >= max) break;
    try
    {
        var info = new FileInfo(file);
        if (info.LinkTarget is not null || info.Length == 0) continue;
        pending.Write(File.ReadAllBytes(file));
    }
    catch (IOException) { continue; }
    catch (UnauthorizedAccessException) { continue; }
    while (pending.Length >= BlockSize && total < max)
    {
        var all = pending.ToArray();
        blocks.Add(all[..BlockSize]);
        total += BlockSize;
        pending = new MemoryStream();
        pending.Write(all, BlockSize, all.Length - BlockSize);
    }
}
Console.WriteLine($"{blocks.Count} blocks of 128 KiB ({total >> 20} MiB) from {dir}, one thread");
Console.WriteLine($"{"codec",-28} {"comp MB/s",10} {"decomp MB/s",12} {"ratio",7}");

void Measure(string name, Func<byte[], byte[], int> compress, Func<byte[], int, byte[], int> decompress)
{
    var outBuf = new byte[BlockSize * 2];
    var packed = new List<(byte[] Data, int Length)>();
    // warm-up on a few blocks, then measure
    foreach (var b in blocks.Take(8)) compress(b, outBuf);
    var sw = Stopwatch.StartNew();
    long packedBytes = 0;
    foreach (var b in blocks)
    {
        int n = compress(b, outBuf);
        if (n <= 0 || n >= b.Length) { packed.Add((b, -1)); packedBytes += b.Length; }
        else { packed.Add((outBuf[..n], n)); packedBytes += n; }
    }
    double ct = sw.Elapsed.TotalSeconds;
    var back = new byte[BlockSize];
    sw.Restart();
    for (int i = 0; i < packed.Count; i++)
    {
        var (data, n) = packed[i];
        if (n < 0) continue;
        int m = decompress(data, n, back);
        if (m != BlockSize || !back.AsSpan().SequenceEqual(blocks[i])) throw new InvalidDataException($"{name}: round trip failed at block {i}");
    }
    double dt = sw.Elapsed.TotalSeconds;
    double mb = total / 1e6;
    Console.WriteLine($"{name,-28} {mb / ct,10:F1} {mb / dt,12:F1} {(double)packedBytes / total,7:F4}");
}

IBlockCompressor Ours(CompressionOptions o) => CompressorFactory.CreateCompressor(o, BlockSize);
IBlockDecompressor OursD(SquashFsCompression a, CompressionOptions o) => CompressorFactory.CreateDecompressor(a, CompressorFactory.EncodeOptions(o, BlockSize));

foreach (int level in new[] { 9, 6 })
{
    var o = new CompressionOptions { Algorithm = SquashFsCompression.Gzip, Level = level };
    using var c = Ours(o); using var d = OursD(SquashFsCompression.Gzip, o);
    Measure($"gzip-{level} libdeflate (ours)", (s, t) => c.Compress(s, t), (s, n, t) => d.Decompress(s.AsSpan(0, n), t));
    var zlibOptions = new ZLibCompressionOptions { CompressionLevel = level };
    Measure($"gzip-{level} runtime ZLibStream", (s, t) =>
    {
        using var output = new MemoryStream(t);
        using (var z = new ZLibStream(output, zlibOptions, leaveOpen: true)) z.Write(s);
        return (int)output.Position;
    }, (s, n, t) => d.Decompress(s.AsSpan(0, n), t));
    Measure($"gzip-{level} system zlib", (s, t) => SystemZlib.Compress(s, t, level), (s, n, t) => d.Decompress(s.AsSpan(0, n), t));
    var deflater = new Deflater(level);
    var inflater = new Inflater();
    Measure($"gzip-{level} SharpZipLib", (s, t) =>
    {
        deflater.Reset(); deflater.SetInput(s); deflater.Finish();
        int n = 0;
        while (!deflater.IsFinished && n < t.Length) n += deflater.Deflate(t, n, t.Length - n);
        return n;
    }, (s, n, t) =>
    {
        inflater.Reset(); inflater.SetInput(s, 0, n);
        int m = 0;
        while (!inflater.IsFinished && m < t.Length) { int k = inflater.Inflate(t, m, t.Length - m); if (k == 0 && inflater.IsNeedingInput) break; m += k; }
        return m;
    });
}
foreach (int level in new[] { 15, 3 })
{
    var o = new CompressionOptions { Algorithm = SquashFsCompression.Zstd, Level = level };
    using var c = Ours(o); using var d = OursD(SquashFsCompression.Zstd, o);
    Measure($"zstd-{level} system libzstd", (s, t) => c.Compress(s, t), (s, n, t) => d.Decompress(s.AsSpan(0, n), t));
    using var zc = new ZstdSharp.Compressor(level);
    using var zd = new ZstdSharp.Decompressor();
    Measure($"zstd-{level} ZstdSharp", (s, t) => zc.Wrap(s, t), (s, n, t) => zd.Unwrap(s.AsSpan(0, n), t));
}
{
    var o = new CompressionOptions { Algorithm = SquashFsCompression.Lz4 };
    using var c = Ours(o); using var d = OursD(SquashFsCompression.Lz4, o);
    Measure("lz4 system liblz4", (s, t) => c.Compress(s, t), (s, n, t) => d.Decompress(s.AsSpan(0, n), t));
    Measure("lz4 K4os", (s, t) => LZ4Codec.Encode(s, t, LZ4Level.L00_FAST), (s, n, t) => LZ4Codec.Decode(s.AsSpan(0, n), t));
    var hc = new CompressionOptions { Algorithm = SquashFsCompression.Lz4, Lz4HighCompression = true };
    using var ch = Ours(hc);
    Measure("lz4-hc12 system liblz4", (s, t) => ch.Compress(s, t), (s, n, t) => d.Decompress(s.AsSpan(0, n), t));
    Measure("lz4-hc12 K4os", (s, t) => LZ4Codec.Encode(s, t, LZ4Level.L12_MAX), (s, n, t) => LZ4Codec.Decode(s.AsSpan(0, n), t));
}
{
    var o = new CompressionOptions { Algorithm = SquashFsCompression.Xz };
    using var c = Ours(o); using var d = OursD(SquashFsCompression.Xz, o);
    Measure("xz-6 system liblzma", (s, t) => c.Compress(s, t), (s, n, t) => d.Decompress(s.AsSpan(0, n), t));
}

/// <summary>The system zlib (what mksquashfs uses), for comparison only.</summary>
static unsafe partial class SystemZlib
{
    [LibraryImport("libz.so.1")]
    private static partial int compress2(byte* dest, ref nuint destLen, byte* source, nuint sourceLen, int level);

    public static int Compress(byte[] source, byte[] destination, int level)
    {
        nuint length = (nuint)destination.Length;
        fixed (byte* s = source)
        fixed (byte* d = destination)
            return compress2(d, ref length, s, (nuint)source.Length, level) == 0 ? (int)length : 0;
    }
}
