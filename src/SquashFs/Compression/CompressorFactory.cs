using Xar.SquashFs.Compression.Native;
using Xar.SquashFs.Format;

namespace Xar.SquashFs.Compression;

/// <summary>Creates block compressors and decompressors, and reads/writes the compressor-options block.</summary>
public static class CompressorFactory
{
    /// <summary>Algorithms this library can write (lzo and legacy lzma are read-only).</summary>
    public static bool CanWrite(SquashFsCompression algorithm) => algorithm is SquashFsCompression.Gzip
        or SquashFsCompression.Zstd or SquashFsCompression.Xz or SquashFsCompression.Lz4;

    /// <summary>Checks settings and that the codec library is present; throws ArgumentException on a bad setting.</summary>
    public static void Validate(CompressionOptions options, int blockSize)
    {
        if (!CanWrite(options.Algorithm))
            throw new ArgumentException($"writing {Name(options.Algorithm)} images is not supported (use zstd, gzip, xz or lz4)");
        var (min, max) = LevelRange(options.Algorithm);
        if (options.Level is int level && (level < min || level > max))
            throw new ArgumentException(min == max
                ? $"{Name(options.Algorithm)} takes no compression level"
                : $"{Name(options.Algorithm)} compression level must be {min}..{max}, not {level}");
        if (options.XzDictionarySize is int dict)
        {
            if (options.Algorithm != SquashFsCompression.Xz)
                throw new ArgumentException("a dictionary size applies to xz only");
            if (!XzCodec.IsValidDictionarySize(dict) || dict > blockSize)
                throw new ArgumentException($"xz dictionary size {dict} must be at least 8K, at most the block size ({blockSize}), and a power of two or 3 times one");
        }
        if (options.XzFilters != XzFilters.None && options.Algorithm != SquashFsCompression.Xz)
            throw new ArgumentException("BCJ filters apply to xz only");
        if (options.Lz4HighCompression && options.Algorithm != SquashFsCompression.Lz4)
            throw new ArgumentException("high compression mode applies to lz4 only");
    }

    /// <summary>Accepted levels; lz4 takes a level only in high-compression mode (1..12).</summary>
    public static (int Min, int Max) LevelRange(SquashFsCompression algorithm) => algorithm switch
    {
        SquashFsCompression.Gzip => (1, 9),
        SquashFsCompression.Zstd => (1, ZstdCodec.MaxLevel),
        SquashFsCompression.Xz => (0, 9),
        SquashFsCompression.Lz4 => (1, LibLz4.HighCompressionMaxLevel),
        _ => (0, 0),
    };

    public static string Name(SquashFsCompression algorithm) => algorithm.ToString().ToLowerInvariant();

    /// <summary>Throws <see cref="CompressorUnavailableException"/> when the system library that reads <paramref name="algorithm"/> is missing.</summary>
    public static void EnsureReadable(SquashFsCompression algorithm) => NativeCodecLibraries.EnsureReadable(algorithm);

    /// <summary>Throws <see cref="CompressorUnavailableException"/> when the system library that writes <paramref name="algorithm"/> is missing.</summary>
    public static void EnsureWritable(SquashFsCompression algorithm) => NativeCodecLibraries.EnsureWritable(algorithm);

    /// <summary>A compressor for one thread. <paramref name="blockSize"/> is the image block size (xz's default dictionary).</summary>
    public static IBlockCompressor CreateCompressor(CompressionOptions options, int blockSize)
    {
        if (options.Uncompressed)
            return new StoreOnlyCompressor();
        Validate(options, blockSize);
        EnsureWritable(options.Algorithm);
        return options.Algorithm switch
        {
            SquashFsCompression.Gzip => new GzipCodec.Compressor(options.Level ?? GzipCodec.DefaultLevel),
            SquashFsCompression.Zstd => new ZstdCodec.Compressor(options.Level ?? ZstdCodec.DefaultLevel),
            SquashFsCompression.Xz => new XzCodec.Compressor(options.Level ?? XzCodec.DefaultPreset,
                XzCodec.DictionarySize(options, blockSize), options.XzFilters),
            SquashFsCompression.Lz4 => new Lz4Codec.Compressor(options.Lz4HighCompression, options.Level),
            _ => throw new ArgumentException($"writing {Name(options.Algorithm)} images is not supported"),
        };
    }

    /// <summary>A decompressor for one thread.</summary>
    /// <exception cref="CompressorUnavailableException">The codec's system library is missing.</exception>
    /// <exception cref="SquashFsCorruptException">Unknown algorithm or invalid options.</exception>
    public static IBlockDecompressor CreateDecompressor(SquashFsCompression algorithm, ReadOnlySpan<byte> optionsPayload = default)
    {
        if (!optionsPayload.IsEmpty)
            DecodeOptions(algorithm, optionsPayload, SquashFsConstants.MaxBlockSize);
        EnsureReadable(algorithm);
        return algorithm switch
        {
            SquashFsCompression.Gzip => new GzipCodec.Decompressor(),
            SquashFsCompression.Zstd => new ZstdCodec.Decompressor(),
            SquashFsCompression.Xz => new XzCodec.Decompressor(),
            SquashFsCompression.Lz4 => new Lz4Codec.Decompressor(),
            SquashFsCompression.Lzo => new LzoCodec.Decompressor(),
            SquashFsCompression.Lzma => new LzmaCodec.Decompressor(),
            _ => throw new SquashFsCorruptException($"unknown compressor id {(ushort)algorithm}"),
        };
    }

    /// <summary>
    /// Payload of the compressor-options block, or empty when mksquashfs would write none
    /// (every setting at its default; lz4 always has one).
    /// </summary>
    public static byte[] EncodeOptions(CompressionOptions options, int blockSize) => options.Algorithm switch
    {
        SquashFsCompression.Gzip => GzipCodec.EncodeOptions(options),
        SquashFsCompression.Zstd => ZstdCodec.EncodeOptions(options),
        SquashFsCompression.Xz => XzCodec.EncodeOptions(options, blockSize),
        SquashFsCompression.Lz4 => Lz4Codec.EncodeOptions(options),
        _ => throw new ArgumentException($"writing {Name(options.Algorithm)} images is not supported"),
    };

    /// <summary>Decodes and checks a compressor-options payload (empty = defaults).</summary>
    /// <exception cref="SquashFsCorruptException">The payload is malformed or out of range.</exception>
    public static CompressionOptions DecodeOptions(SquashFsCompression algorithm, ReadOnlySpan<byte> optionsPayload, int blockSize) => algorithm switch
    {
        SquashFsCompression.Gzip => GzipCodec.DecodeOptions(optionsPayload),
        SquashFsCompression.Zstd => ZstdCodec.DecodeOptions(optionsPayload),
        SquashFsCompression.Xz => XzCodec.DecodeOptions(optionsPayload, blockSize),
        SquashFsCompression.Lz4 => Lz4Codec.DecodeOptions(optionsPayload),
        SquashFsCompression.Lzo => LzoCodec.DecodeOptions(optionsPayload),
        SquashFsCompression.Lzma => LzmaCodec.DecodeOptions(optionsPayload),
        _ => throw new SquashFsCorruptException($"unknown compressor id {(ushort)algorithm}"),
    };
}
