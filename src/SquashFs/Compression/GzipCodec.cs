using System.Buffers.Binary;
using System.IO.Compression;
using Xar.SquashFs.Compression.Native;
using Xar.SquashFs.Format;

namespace Xar.SquashFs.Compression;

/// <summary>
/// "gzip" in SquashFS: plain zlib streams (RFC 1950). Written with the system libdeflate (smaller
/// and faster than zlib at the same level); read with the runtime's zlib-ng through ZLibStream,
/// so reading needs no extra library (both beat SharpZipLib by 5x or more: bench/RESULTS.md).
/// </summary>
internal static class GzipCodec
{
    public const int DefaultLevel = 9;
    private const int DefaultWindow = 15;

    public static byte[] EncodeOptions(CompressionOptions options)
    {
        int level = options.Level ?? DefaultLevel;
        if (level == DefaultLevel)
            return [];
        var payload = new byte[8];
        BinaryPrimitives.WriteUInt32LittleEndian(payload, (uint)level);
        BinaryPrimitives.WriteUInt16LittleEndian(payload.AsSpan(4), DefaultWindow);
        return payload;
    }

    public static CompressionOptions DecodeOptions(ReadOnlySpan<byte> payload)
    {
        if (payload.IsEmpty)
            return new CompressionOptions { Algorithm = SquashFsCompression.Gzip };
        if (payload.Length != 8)
            throw new SquashFsCorruptException($"gzip compressor options are {payload.Length} bytes, expected 8");
        uint level = BinaryPrimitives.ReadUInt32LittleEndian(payload);
        ushort window = BinaryPrimitives.ReadUInt16LittleEndian(payload[4..]);
        if (level is < 1 or > 9 || window is < 8 or > 15)
            throw new SquashFsCorruptException($"gzip compressor options out of range (level {level}, window {window})");
        return new CompressionOptions { Algorithm = SquashFsCompression.Gzip, Level = (int)level };
    }

    /// <summary>Compresses through libdeflate, level for level (zlib's 1..9 map to libdeflate's 1..9).</summary>
    public sealed unsafe class Compressor : IBlockCompressor
    {
        private nint _handle;

        public Compressor(int level)
        {
            _handle = LibDeflate.libdeflate_alloc_compressor(level);
            if (_handle == 0)
                throw new OutOfMemoryException($"libdeflate could not allocate a level {level} compressor");
        }

        public int Compress(ReadOnlySpan<byte> source, Span<byte> destination)
        {
            ObjectDisposedException.ThrowIf(_handle == 0, this);
            if (source.IsEmpty || destination.IsEmpty)
                return 0;
            // Room for one byte less than the source: anything larger is "not smaller", stored raw.
            int room = Math.Min(destination.Length, source.Length - 1);
            if (room <= 0)
                return 0;
            fixed (byte* src = source)
            fixed (byte* dst = destination)
                return (int)LibDeflate.libdeflate_zlib_compress(_handle, src, (nuint)source.Length, dst, (nuint)room);
        }

        public void Dispose()
        {
            if (_handle != 0)
                LibDeflate.libdeflate_free_compressor(_handle);
            _handle = 0;
        }
    }

    public sealed class Decompressor : IBlockDecompressor
    {
        public unsafe int Decompress(ReadOnlySpan<byte> source, Span<byte> destination)
        {
            if (source.IsEmpty)
                throw new SquashFsCorruptException("gzip block is empty");
            fixed (byte* src = source)
            {
                using var input = new UnmanagedMemoryStream(src, source.Length);
                try
                {
                    using var z = new ZLibStream(input, CompressionMode.Decompress);
                    int total = 0;
                    while (total < destination.Length)
                    {
                        int n = z.Read(destination[total..]);
                        if (n == 0)
                            return total;
                        total += n;
                    }
                    Span<byte> probe = stackalloc byte[1];
                    if (z.Read(probe) != 0)
                        throw new SquashFsCorruptException($"gzip block decompresses to more than {destination.Length} bytes");
                    return total;
                }
                catch (InvalidDataException e)
                {
                    throw new SquashFsCorruptException("gzip block does not decompress: " + e.Message, e);
                }
            }
        }

        public void Dispose() { }
    }
}
