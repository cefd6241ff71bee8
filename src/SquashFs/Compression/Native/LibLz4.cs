using System.Runtime.InteropServices;

namespace Xar.SquashFs.Compression.Native;

/// <summary>The system liblz4 (C, so the AOT launcher needs no managed port).</summary>
internal static unsafe partial class LibLz4
{
    public const int HighCompressionMaxLevel = 12;

    [LibraryImport(NativeCodecLibraries.Lz4)]
    public static partial int LZ4_compress_default(byte* src, byte* dst, int srcSize, int dstCapacity);

    [LibraryImport(NativeCodecLibraries.Lz4)]
    public static partial int LZ4_compress_HC(byte* src, byte* dst, int srcSize, int dstCapacity, int level);

    [LibraryImport(NativeCodecLibraries.Lz4)]
    public static partial int LZ4_decompress_safe(byte* src, byte* dst, int compressedSize, int dstCapacity);
}
