using System.Runtime.InteropServices;
using Xar.SquashFs.Compression.Native;
using Xar.SquashFs.Format;

namespace Xar.SquashFs.Compression;

/// <summary>
/// Legacy lzma (LZMA1 "alone" streams with a 13-byte header), deprecated but still written by
/// mksquashfs -comp lzma. Read-only here: new images should use xz.
/// </summary>
internal static class LzmaCodec
{
    private const ulong DecoderMemoryLimit = 64 << 20;

    public static CompressionOptions DecodeOptions(ReadOnlySpan<byte> payload)
    {
        if (!payload.IsEmpty)
            throw new SquashFsCorruptException("lzma images carry no compressor options, but this one does");
        return new CompressionOptions { Algorithm = SquashFsCompression.Lzma };
    }

    public sealed unsafe class Decompressor : IBlockDecompressor
    {
        public int Decompress(ReadOnlySpan<byte> source, Span<byte> destination)
        {
            void* stream = NativeMemory.AllocZeroed(LibLzma.OpaqueStructSize);
            try
            {
                int ret = LibLzma.lzma_alone_decoder(stream, DecoderMemoryLimit);
                if (ret != LibLzma.LZMA_OK)
                    throw new SquashFsCorruptException($"lzma decoder failed to start (liblzma error {ret})");
                fixed (byte* src = source)
                fixed (byte* dst = destination)
                {
                    var head = (LibLzma.StreamHead*)stream;
                    head->NextIn = src;
                    head->AvailIn = (nuint)source.Length;
                    head->NextOut = dst;
                    head->AvailOut = (nuint)destination.Length;
                    ret = LibLzma.lzma_code(stream, LibLzma.LZMA_FINISH);
                    if (ret == LibLzma.LZMA_STREAM_END)
                        return (int)head->TotalOut;
                    if (ret == LibLzma.LZMA_OK || ret == LibLzma.LZMA_BUF_ERROR)
                        throw new SquashFsCorruptException($"lzma block is truncated or decompresses to more than {destination.Length} bytes");
                    throw new SquashFsCorruptException($"lzma block does not decompress (liblzma error {ret})");
                }
            }
            finally
            {
                LibLzma.lzma_end(stream);
                NativeMemory.Free(stream);
            }
        }

        public void Dispose() { }
    }
}
