using System.Runtime.InteropServices;
using Xar.SquashFs.Format;

namespace Xar.SquashFs.Compression.Native;

/// <summary>
/// The system codec libraries we call (soname, and the Debian package that ships it). Loading is
/// checked up front so a missing library gives a clear "install X" message, not a DllNotFoundException.
/// </summary>
internal static class NativeCodecLibraries
{
    public const string Zstd = "libzstd.so.1";
    public const string Lzma = "liblzma.so.5";
    public const string Lz4 = "liblz4.so.1";
    public const string Lzo = "liblzo2.so.2";

    private static readonly Dictionary<string, bool> Loaded = new(StringComparer.Ordinal);

    public static (string Library, string Package)? For(SquashFsCompression algorithm) => algorithm switch
    {
        SquashFsCompression.Zstd => (Zstd, "libzstd1"),
        SquashFsCompression.Xz or SquashFsCompression.Lzma => (Lzma, "liblzma5"),
        SquashFsCompression.Lz4 => (Lz4, "liblz4-1"),
        SquashFsCompression.Lzo => (Lzo, "liblzo2-2"),
        _ => null, // gzip: the runtime's own zlib
    };

    public static void Ensure(SquashFsCompression algorithm)
    {
        if (For(algorithm) is not var (library, package))
            return;
        bool ok;
        lock (Loaded)
        {
            if (!Loaded.TryGetValue(library, out ok))
            {
                ok = NativeLibrary.TryLoad(library, typeof(NativeCodecLibraries).Assembly, null, out _);
                Loaded[library] = ok;
            }
        }
        if (!ok)
            throw new CompressorUnavailableException(algorithm,
                $"{algorithm.ToString().ToLowerInvariant()} needs the system library {library}, which is not installed (Debian: apt-get install {package})");
    }
}
