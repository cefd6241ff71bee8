using System.Runtime.InteropServices;

namespace Xar.SquashFs.Compression.Native;

/// <summary>The system liblzma (xz-utils), for xz (LZMA2 in .xz streams) and legacy lzma (.lzma "alone" streams).</summary>
internal static unsafe partial class LibLzma
{
    public const int LZMA_OK = 0;
    public const int LZMA_STREAM_END = 1;
    public const int LZMA_BUF_ERROR = 10;
    public const int LZMA_FINISH = 3;
    public const int LZMA_CHECK_CRC32 = 1;
    public const ulong LZMA_VLI_UNKNOWN = ulong.MaxValue;
    public const ulong LZMA_FILTER_LZMA2 = 0x21;
    public const ulong LZMA_FILTER_X86 = 0x04;
    public const ulong LZMA_FILTER_POWERPC = 0x05;
    public const ulong LZMA_FILTER_IA64 = 0x06;
    public const ulong LZMA_FILTER_ARM = 0x07;
    public const ulong LZMA_FILTER_ARMTHUMB = 0x08;
    public const ulong LZMA_FILTER_SPARC = 0x09;
    public const ulong LZMA_FILTER_ARM64 = 0x0A;

    /// <summary>
    /// Bytes reserved for lzma_options_lzma and lzma_stream: both are smaller than this in every
    /// liblzma 5.x; we only touch their leading, stable fields and let liblzma fill the rest.
    /// </summary>
    public const int OpaqueStructSize = 512;

    [StructLayout(LayoutKind.Sequential)]
    public struct Filter
    {
        public ulong Id;
        public void* Options;
    }

    /// <summary>The leading, ABI-stable fields of lzma_stream.</summary>
    [StructLayout(LayoutKind.Sequential)]
    public struct StreamHead
    {
        public byte* NextIn;
        public nuint AvailIn;
        public ulong TotalIn;
        public byte* NextOut;
        public nuint AvailOut;
        public ulong TotalOut;
    }

    [LibraryImport(NativeCodecLibraries.Lzma)]
    public static partial byte lzma_lzma_preset(void* options, uint preset);

    [LibraryImport(NativeCodecLibraries.Lzma)]
    public static partial int lzma_stream_buffer_encode(Filter* filters, int check, void* allocator,
        byte* input, nuint inputSize, byte* output, nuint* outputPosition, nuint outputSize);

    [LibraryImport(NativeCodecLibraries.Lzma)]
    public static partial int lzma_stream_buffer_decode(ulong* memlimit, uint flags, void* allocator,
        byte* input, nuint* inputPosition, nuint inputSize, byte* output, nuint* outputPosition, nuint outputSize);

    [LibraryImport(NativeCodecLibraries.Lzma)]
    public static partial int lzma_alone_decoder(void* stream, ulong memlimit);

    [LibraryImport(NativeCodecLibraries.Lzma)]
    public static partial int lzma_code(void* stream, int action);

    [LibraryImport(NativeCodecLibraries.Lzma)]
    public static partial void lzma_end(void* stream);
}
