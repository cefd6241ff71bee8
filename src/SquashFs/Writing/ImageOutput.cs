namespace Xar.SquashFs.Writing;

/// <summary>
/// The destination of an image: a seekable stream in which the image starts at the stream's
/// position when writing began (a XAR file puts a header before it). Offsets are image-relative.
/// </summary>
internal sealed class ImageOutput(Stream stream)
{
    private readonly long _base = stream.Position;

    /// <summary>Image-relative offset of the next byte written.</summary>
    public long Position { get; private set; }

    public Stream Stream => stream;

    public void Write(ReadOnlySpan<byte> data)
    {
        stream.Write(data);
        Position += data.Length;
    }

    /// <summary>Writes <paramref name="data"/> at an earlier image offset and comes back to the end.</summary>
    public void WriteAt(long offset, ReadOnlySpan<byte> data)
    {
        stream.Flush();
        long end = stream.Position;
        stream.Position = _base + offset;
        stream.Write(data);
        stream.Position = end;
    }

    public void WriteZeros(long count)
    {
        Span<byte> zeros = stackalloc byte[4096];
        zeros.Clear();
        while (count > 0)
        {
            int n = (int)Math.Min(count, zeros.Length);
            Write(zeros[..n]);
            count -= n;
        }
    }
}
