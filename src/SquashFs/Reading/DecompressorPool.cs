using Xar.SquashFs.Format;

namespace Xar.SquashFs.Reading;

/// <summary>Decompressors are single-threaded: parallel readers rent one each.</summary>
internal sealed class DecompressorPool(Func<Compression.IBlockDecompressor> factory) : IDisposable
{
    private readonly System.Collections.Concurrent.ConcurrentBag<Compression.IBlockDecompressor> _idle = [];
    private bool _disposed;

    public Compression.IBlockDecompressor Rent() => _idle.TryTake(out var d) ? d : factory();

    public void Return(Compression.IBlockDecompressor decompressor)
    {
        if (_disposed)
            decompressor.Dispose();
        else
            _idle.Add(decompressor);
    }

    private static string Describe(Subject what, long metadataBlock) =>
        metadataBlock < 0 ? what.ToString() : $"{what}: metadata block at {metadataBlock}";

    /// <summary>
    /// Decompresses one block (or copies it when stored raw) into <paramref name="destination"/>
    /// and returns the length. <paramref name="metadataBlock"/>: where the metadata block is, for messages.
    /// </summary>
    public int Decode(ReadOnlySpan<byte> source, bool compressed, Span<byte> destination, Subject what, long metadataBlock = -1)
    {
        if (!compressed)
        {
            if (source.Length > destination.Length)
                throw new SquashFsCorruptException($"{Describe(what, metadataBlock)}: uncompressed block of {source.Length} bytes is larger than {destination.Length}");
            source.CopyTo(destination);
            return source.Length;
        }
        var d = Rent();
        try
        {
            return d.Decompress(source, destination);
        }
        catch (SquashFsCorruptException e)
        {
            throw new SquashFsCorruptException($"{Describe(what, metadataBlock)}: {e.Message}", e);
        }
        catch (InvalidDataException e)
        {
            throw new SquashFsCorruptException($"{Describe(what, metadataBlock)}: {e.Message}", e);
        }
        finally
        {
            Return(d);
        }
    }

    public void Dispose()
    {
        _disposed = true;
        while (_idle.TryTake(out var d))
            d.Dispose();
    }
}
