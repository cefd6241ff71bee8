using System.Buffers.Binary;
using Xar.SquashFs.Compression.Native;
using Xar.SquashFs.Format;

namespace Xar.SquashFs.Compression;

internal static class ZstdCodec
{
    public const int DefaultLevel = 15;
    public const int MaxLevel = 22;

    public static byte[] EncodeOptions(CompressionOptions options)
    {
        int level = options.Level ?? DefaultLevel;
        if (level == DefaultLevel)
            return [];
        var payload = new byte[4];
        BinaryPrimitives.WriteUInt32LittleEndian(payload, (uint)level);
        return payload;
    }

    public static CompressionOptions DecodeOptions(ReadOnlySpan<byte> payload)
    {
        if (payload.IsEmpty)
            return new CompressionOptions { Algorithm = SquashFsCompression.Zstd };
        if (payload.Length != 4)
            throw new SquashFsCorruptException($"zstd compressor options are {payload.Length} bytes, expected 4");
        uint level = BinaryPrimitives.ReadUInt32LittleEndian(payload);
        if (level is < 1 or > MaxLevel)
            throw new SquashFsCorruptException($"zstd compression level {level} out of range 1..{MaxLevel}");
        return new CompressionOptions { Algorithm = SquashFsCompression.Zstd, Level = (int)level };
    }

    public sealed unsafe class Compressor : IBlockCompressor
    {
        private readonly int _level;
        private nint _context;

        public Compressor(int level)
        {
            _level = level;
            _context = LibZstd.ZSTD_createCCtx();
            if (_context == 0)
                throw new OutOfMemoryException("ZSTD_createCCtx failed");
        }

        public int Compress(ReadOnlySpan<byte> source, Span<byte> destination)
        {
            ObjectDisposedException.ThrowIf(_context == 0, this);
            fixed (byte* src = source)
            fixed (byte* dst = destination)
            {
                nuint n = LibZstd.ZSTD_compressCCtx(_context, dst, (nuint)destination.Length, src, (nuint)source.Length, _level);
                // An error here is "destination too small", i.e. the block does not shrink.
                if (LibZstd.ZSTD_isError(n) != 0)
                    return 0;
                return n < (nuint)source.Length ? (int)n : 0;
            }
        }

        public void Dispose()
        {
            if (_context != 0)
            {
                LibZstd.ZSTD_freeCCtx(_context);
                _context = 0;
            }
        }
    }

    public sealed unsafe class Decompressor : IBlockDecompressor
    {
        private nint _context;

        public Decompressor()
        {
            _context = LibZstd.ZSTD_createDCtx();
            if (_context == 0)
                throw new OutOfMemoryException("ZSTD_createDCtx failed");
        }

        public int Decompress(ReadOnlySpan<byte> source, Span<byte> destination)
        {
            ObjectDisposedException.ThrowIf(_context == 0, this);
            fixed (byte* src = source)
            fixed (byte* dst = destination)
            {
                nuint n = LibZstd.ZSTD_decompressDCtx(_context, dst, (nuint)destination.Length, src, (nuint)source.Length);
                if (LibZstd.ZSTD_isError(n) != 0)
                    throw new SquashFsCorruptException("zstd block does not decompress: " + LibZstd.ErrorName(n));
                return (int)n;
            }
        }

        public void Dispose()
        {
            if (_context != 0)
            {
                LibZstd.ZSTD_freeDCtx(_context);
                _context = 0;
            }
        }
    }
}
