using System.Runtime.InteropServices;

namespace Xar.SquashFs.Compression.Native;

/// <summary>The system liblzo2, for reading lzo images (mksquashfs -comp lzo).</summary>
internal static unsafe partial class LibLzo
{
    public const int LZO_E_OK = 0;

    [LibraryImport(NativeCodecLibraries.Lzo)]
    public static partial int lzo1x_decompress_safe(byte* src, nuint srcLength, byte* dst, nuint* dstLength, void* workMemory);
}
