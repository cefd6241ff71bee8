using System.Buffers.Binary;
using Xar.SquashFs.Compression.Native;
using Xar.SquashFs.Format;

namespace Xar.SquashFs.Compression;

/// <summary>lz4 block format. Its options block (version 1 + flags) is always written, as the format requires.</summary>
internal static class Lz4Codec
{
    private const uint LegacyVersion = 1;
    private const uint HighCompressionFlag = 1;

    public static byte[] EncodeOptions(CompressionOptions options)
    {
        var payload = new byte[8];
        BinaryPrimitives.WriteUInt32LittleEndian(payload, LegacyVersion);
        BinaryPrimitives.WriteUInt32LittleEndian(payload.AsSpan(4), options.Lz4HighCompression ? HighCompressionFlag : 0);
        return payload;
    }

    public static CompressionOptions DecodeOptions(ReadOnlySpan<byte> payload)
    {
        if (payload.Length != 8)
            throw new SquashFsCorruptException($"lz4 compressor options are {payload.Length} bytes, expected 8");
        uint version = BinaryPrimitives.ReadUInt32LittleEndian(payload);
        uint flags = BinaryPrimitives.ReadUInt32LittleEndian(payload[4..]);
        if (version != LegacyVersion)
            throw new SquashFsCorruptException($"lz4 stream version {version} is not supported (only 1)");
        if ((flags & ~HighCompressionFlag) != 0)
            throw new SquashFsCorruptException($"lz4 flags 0x{flags:x} include unknown bits");
        return new CompressionOptions { Algorithm = SquashFsCompression.Lz4, Lz4HighCompression = flags != 0 };
    }

    public sealed unsafe class Compressor(bool highCompression, int? level) : IBlockCompressor
    {
        public int Compress(ReadOnlySpan<byte> source, Span<byte> destination)
        {
            fixed (byte* src = source)
            fixed (byte* dst = destination)
            {
                int capacity = Math.Min(destination.Length, source.Length - 1);
                if (capacity <= 0)
                    return 0;
                int n = highCompression
                    ? LibLz4.LZ4_compress_HC(src, dst, source.Length, capacity, level ?? LibLz4.HighCompressionMaxLevel)
                    : LibLz4.LZ4_compress_default(src, dst, source.Length, capacity);
                return n > 0 ? n : 0;
            }
        }

        public void Dispose() { }
    }

    public sealed unsafe class Decompressor : IBlockDecompressor
    {
        public int Decompress(ReadOnlySpan<byte> source, Span<byte> destination)
        {
            fixed (byte* src = source)
            fixed (byte* dst = destination)
            {
                int n = LibLz4.LZ4_decompress_safe(src, dst, source.Length, destination.Length);
                if (n < 0)
                    throw new SquashFsCorruptException($"lz4 block is corrupt or decompresses to more than {destination.Length} bytes");
                return n;
            }
        }

        public void Dispose() { }
    }
}
