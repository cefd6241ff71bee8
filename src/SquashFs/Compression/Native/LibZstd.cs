using System.Runtime.InteropServices;

namespace Xar.SquashFs.Compression.Native;

/// <summary>The system libzstd (1.2-1.3x faster than the managed port at levels 3 and 15, measured).</summary>
internal static unsafe partial class LibZstd
{
    [LibraryImport(NativeCodecLibraries.Zstd)]
    public static partial nint ZSTD_createCCtx();

    [LibraryImport(NativeCodecLibraries.Zstd)]
    public static partial nuint ZSTD_freeCCtx(nint cctx);

    [LibraryImport(NativeCodecLibraries.Zstd)]
    public static partial nuint ZSTD_compressCCtx(nint cctx, byte* dst, nuint dstCapacity, byte* src, nuint srcSize, int level);

    [LibraryImport(NativeCodecLibraries.Zstd)]
    public static partial nint ZSTD_createDCtx();

    [LibraryImport(NativeCodecLibraries.Zstd)]
    public static partial nuint ZSTD_freeDCtx(nint dctx);

    [LibraryImport(NativeCodecLibraries.Zstd)]
    public static partial nuint ZSTD_decompressDCtx(nint dctx, byte* dst, nuint dstCapacity, byte* src, nuint srcSize);

    [LibraryImport(NativeCodecLibraries.Zstd)]
    public static partial uint ZSTD_isError(nuint code);

    [LibraryImport(NativeCodecLibraries.Zstd)]
    public static partial byte* ZSTD_getErrorName(nuint code);

    [LibraryImport(NativeCodecLibraries.Zstd)]
    public static partial int ZSTD_maxCLevel();

    public static string ErrorName(nuint code) => Marshal.PtrToStringUTF8((nint)ZSTD_getErrorName(code)) ?? "unknown error";
}
