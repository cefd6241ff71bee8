using System.Diagnostics.CodeAnalysis;
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
    public const string Deflate = "libdeflate.so.0";
    /// <summary>Set by a program that links libzstd, liblzma and liblz4 statically (see src/Launcher's project).</summary>
    public const string StaticCodecsSwitch = "Xar.SquashFs.StaticCodecs";
    /// <summary>Set by a program that links liblzo2 statically (a machine may have the other archives but not liblzo2-dev).</summary>
    public const string StaticLzoSwitch = "Xar.SquashFs.StaticLzo";

    private static readonly Dictionary<string, bool> Loaded = new(StringComparer.Ordinal);

    // Feature switches: NativeAOT folds them to constants at build time (the launcher sets both), so the FUSE server's
    // way to its mount does not start AppContext's switch table; elsewhere they are read at run time.
    [FeatureSwitchDefinition(StaticCodecsSwitch)]
    private static bool CodecsLinkedIn => AppContext.TryGetSwitch(StaticCodecsSwitch, out bool on) && on;

    [FeatureSwitchDefinition(StaticLzoSwitch)]
    private static bool LzoLinkedIn => AppContext.TryGetSwitch(StaticLzoSwitch, out bool on) && on;

    /// <summary>The library that reads <paramref name="algorithm"/>, or null for the runtime's own zlib.</summary>
    public static (string Library, string Package)? ForReading(SquashFsCompression algorithm) => algorithm switch
    {
        SquashFsCompression.Zstd => (Zstd, "libzstd1"),
        SquashFsCompression.Xz or SquashFsCompression.Lzma => (Lzma, "liblzma5"),
        SquashFsCompression.Lz4 => (Lz4, "liblz4-1"),
        SquashFsCompression.Lzo => (Lzo, "liblzo2-2"),
        _ => null, // gzip: the runtime's own zlib
    };

    /// <summary>The library that writes <paramref name="algorithm"/> (gzip: libdeflate, for its ratio).</summary>
    public static (string Library, string Package)? ForWriting(SquashFsCompression algorithm) =>
        algorithm == SquashFsCompression.Gzip ? (Deflate, "libdeflate0") : ForReading(algorithm);

    public static void EnsureReadable(SquashFsCompression algorithm) => Ensure(algorithm, ForReading(algorithm), "reading");

    public static void EnsureWritable(SquashFsCompression algorithm) => Ensure(algorithm, ForWriting(algorithm), "writing");

    private static void Ensure(SquashFsCompression algorithm, (string Library, string Package)? needed, string purpose)
    {
        if (needed is not var (library, package))
            return;
        // A program that linked zstd, liblzma, lz4 or lzo in (the launcher, built where their static archives exist) loads nothing.
        if (library is Zstd or Lzma or Lz4 && CodecsLinkedIn)
            return;
        if (library is Lzo && LzoLinkedIn)
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
                $"{purpose} {algorithm.ToString().ToLowerInvariant()} images needs the system library {library}, which is not installed (Debian: apt-get install {package})");
    }
}
