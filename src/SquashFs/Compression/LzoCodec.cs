using System.Buffers.Binary;
using Xar.SquashFs.Compression.Native;
using Xar.SquashFs.Format;

namespace Xar.SquashFs.Compression;

/// <summary>lzo1x streams. Read-only here: every lzo1x variant decodes with lzo1x_decompress_safe.</summary>
internal static class LzoCodec
{
    public static CompressionOptions DecodeOptions(ReadOnlySpan<byte> payload)
    {
        if (payload.IsEmpty)
            return new CompressionOptions { Algorithm = SquashFsCompression.Lzo };
        if (payload.Length != 8)
            throw new SquashFsCorruptException($"lzo compressor options are {payload.Length} bytes, expected 8");
        uint algorithm = BinaryPrimitives.ReadUInt32LittleEndian(payload);
        uint level = BinaryPrimitives.ReadUInt32LittleEndian(payload[4..]);
        if (algorithm > 4 || level > 9 || (algorithm != 4 && level != 0))
            throw new SquashFsCorruptException($"lzo compressor options out of range (algorithm {algorithm}, level {level})");
        return new CompressionOptions { Algorithm = SquashFsCompression.Lzo, Level = algorithm == 4 ? (int)level : null };
    }

    public sealed unsafe class Decompressor : IBlockDecompressor
    {
        public int Decompress(ReadOnlySpan<byte> source, Span<byte> destination)
        {
            fixed (byte* src = source)
            fixed (byte* dst = destination)
            {
                nuint length = (nuint)destination.Length;
                int ret = LibLzo.lzo1x_decompress_safe(src, (nuint)source.Length, dst, &length, null);
                if (ret != LibLzo.LZO_E_OK)
                    throw new SquashFsCorruptException($"lzo block is corrupt or decompresses to more than {destination.Length} bytes (lzo error {ret})");
                return (int)length;
            }
        }

        public void Dispose() { }
    }
}
