using System.Buffers.Binary;
using System.Numerics;
using System.Runtime.InteropServices;
using Xar.SquashFs.Compression.Native;
using Xar.SquashFs.Format;

namespace Xar.SquashFs.Compression;

/// <summary>
/// xz: each block is a complete .xz stream (CRC32 check) holding LZMA2, optionally behind a BCJ
/// filter. Like mksquashfs, every selected filter is tried and the smallest result kept.
/// </summary>
internal static class XzCodec
{
    public const int DefaultPreset = 6;
    // Ample for any dictionary SquashFS allows (<= 1 MiB); a hostile stream cannot make us allocate more.
    private const ulong DecoderMemoryLimit = 64 << 20;

    private static readonly (XzFilters Flag, ulong Id)[] FilterIds =
    [
        (XzFilters.X86, LibLzma.LZMA_FILTER_X86), (XzFilters.PowerPC, LibLzma.LZMA_FILTER_POWERPC),
        (XzFilters.IA64, LibLzma.LZMA_FILTER_IA64), (XzFilters.Arm, LibLzma.LZMA_FILTER_ARM),
        (XzFilters.ArmThumb, LibLzma.LZMA_FILTER_ARMTHUMB), (XzFilters.Sparc, LibLzma.LZMA_FILTER_SPARC),
        (XzFilters.Arm64, LibLzma.LZMA_FILTER_ARM64),
    ];

    /// <summary>A valid dictionary size: at least 8 KiB, a power of two or 3 x a power of two (2^n + 2^(n-1)).</summary>
    public static bool IsValidDictionarySize(long size) =>
        size >= 8192 && (BitOperations.IsPow2(size) || (size % 3 == 0 && BitOperations.IsPow2(size / 3)));

    public static int DictionarySize(CompressionOptions options, int blockSize) => options.XzDictionarySize ?? blockSize;

    public static byte[] EncodeOptions(CompressionOptions options, int blockSize)
    {
        int dictionary = DictionarySize(options, blockSize);
        if (dictionary == blockSize && options.XzFilters == XzFilters.None)
            return [];
        var payload = new byte[8];
        BinaryPrimitives.WriteUInt32LittleEndian(payload, (uint)dictionary);
        BinaryPrimitives.WriteUInt32LittleEndian(payload.AsSpan(4), (uint)options.XzFilters);
        return payload;
    }

    public static CompressionOptions DecodeOptions(ReadOnlySpan<byte> payload, int blockSize)
    {
        if (payload.IsEmpty)
            return new CompressionOptions { Algorithm = SquashFsCompression.Xz, XzDictionarySize = blockSize };
        if (payload.Length != 8)
            throw new SquashFsCorruptException($"xz compressor options are {payload.Length} bytes, expected 8");
        uint dictionary = BinaryPrimitives.ReadUInt32LittleEndian(payload);
        uint filters = BinaryPrimitives.ReadUInt32LittleEndian(payload[4..]);
        if (!IsValidDictionarySize(dictionary))
            throw new SquashFsCorruptException($"xz dictionary size {dictionary} is not valid");
        if ((filters & ~0x7Fu) != 0)
            throw new SquashFsCorruptException($"xz filter bits 0x{filters:x} include unknown filters");
        return new CompressionOptions
        {
            Algorithm = SquashFsCompression.Xz,
            XzDictionarySize = (int)dictionary,
            XzFilters = (XzFilters)filters,
        };
    }

    public sealed unsafe class Compressor : IBlockCompressor
    {
        private readonly ulong[] _filterIds;
        private void* _lzma2Options;
        private byte[] _scratch = [];

        public Compressor(int preset, int dictionarySize, XzFilters filters)
        {
            _lzma2Options = NativeMemory.AllocZeroed(LibLzma.OpaqueStructSize);
            if (LibLzma.lzma_lzma_preset(_lzma2Options, (uint)preset) != 0)
            {
                NativeMemory.Free(_lzma2Options);
                throw new ArgumentOutOfRangeException(nameof(preset), $"xz preset {preset} is not supported");
            }
            *(uint*)_lzma2Options = (uint)dictionarySize; // dict_size is the first field
            var ids = new List<ulong> { 0 };
            foreach (var (flag, id) in FilterIds)
                if ((filters & flag) != 0)
                    ids.Add(id);
            _filterIds = [.. ids];
        }

        public int Compress(ReadOnlySpan<byte> source, Span<byte> destination)
        {
            ObjectDisposedException.ThrowIf(_lzma2Options == null, this);
            int best = 0;
            var chain = stackalloc LibLzma.Filter[3];
            if (_filterIds.Length > 1 && _scratch.Length < destination.Length)
                _scratch = new byte[destination.Length];
            fixed (byte* src = source)
            fixed (byte* dst = destination)
            fixed (byte* scratch = _scratch)
            {
                foreach (ulong bcj in _filterIds)
                {
                    int i = 0;
                    if (bcj != 0)
                        chain[i++] = new LibLzma.Filter { Id = bcj, Options = null };
                    chain[i++] = new LibLzma.Filter { Id = LibLzma.LZMA_FILTER_LZMA2, Options = _lzma2Options };
                    chain[i] = new LibLzma.Filter { Id = LibLzma.LZMA_VLI_UNKNOWN, Options = null };
                    // The first attempt writes straight into the destination; later ones into scratch.
                    byte* target = best == 0 && bcj == 0 ? dst : scratch;
                    nuint limit = (nuint)(best == 0 ? Math.Min(destination.Length, source.Length - 1) : best - 1);
                    if (limit == 0 || target == null)
                        continue;
                    nuint pos = 0;
                    int ret = LibLzma.lzma_stream_buffer_encode(chain, LibLzma.LZMA_CHECK_CRC32, null, src, (nuint)source.Length, target, &pos, limit);
                    if (ret != LibLzma.LZMA_OK)
                        continue; // LZMA_BUF_ERROR: not smaller than the best so far
                    if (target != dst)
                        new ReadOnlySpan<byte>(target, (int)pos).CopyTo(destination);
                    best = (int)pos;
                }
            }
            return best;
        }

        public void Dispose()
        {
            if (_lzma2Options != null)
            {
                NativeMemory.Free(_lzma2Options);
                _lzma2Options = null;
            }
        }
    }

    public sealed unsafe class Decompressor : IBlockDecompressor
    {
        public int Decompress(ReadOnlySpan<byte> source, Span<byte> destination)
        {
            fixed (byte* src = source)
            fixed (byte* dst = destination)
            {
                ulong memlimit = DecoderMemoryLimit;
                nuint inPos = 0, outPos = 0;
                int ret = LibLzma.lzma_stream_buffer_decode(&memlimit, 0, null, src, &inPos, (nuint)source.Length, dst, &outPos, (nuint)destination.Length);
                if (ret != LibLzma.LZMA_OK)
                    throw new SquashFsCorruptException(ret == LibLzma.LZMA_BUF_ERROR
                        ? $"xz block is truncated or decompresses to more than {destination.Length} bytes"
                        : $"xz block does not decompress (liblzma error {ret})");
                return (int)outPos;
            }
        }

        public void Dispose() { }
    }
}
