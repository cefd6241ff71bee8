namespace Xar.Packer.Cli;

/// <summary>
/// Standard output for a reading command: what it writes is held back until the command succeeds
/// (<see cref="Commit"/>), so that a failure leaves stdout empty instead of half a listing. Past
/// <see cref="Limit"/> bytes the held part goes out and the rest streams through (memory stays bounded;
/// a failure that late leaves what was written, as with unsquashfs or cat).
/// </summary>
public sealed class HeldOutput(Stream sink) : Stream
{
    public const int Limit = 4 << 20;

    private MemoryStream? _held = new();

    /// <summary>Writes what is held. Without it, disposing drops it.</summary>
    public void Commit()
    {
        if (_held is not null)
        {
            _held.WriteTo(sink);
            _held = null;
        }
        sink.Flush();
    }

    public override void Write(ReadOnlySpan<byte> buffer)
    {
        if (_held is not null && _held.Length + buffer.Length <= Limit)
        {
            _held.Write(buffer);
            return;
        }
        if (_held is not null)
        {
            _held.WriteTo(sink);
            _held = null;
        }
        sink.Write(buffer);
    }

    public override void Write(byte[] buffer, int offset, int count) => Write(buffer.AsSpan(offset, count));

    public override void WriteByte(byte value) => Write([value]);

    public override void Flush()
    {
        // Held bytes wait for Commit; only what already streams is flushed.
        if (_held is null)
            sink.Flush();
    }

    public override bool CanRead => false;
    public override bool CanSeek => false;
    public override bool CanWrite => true;
    public override long Length => throw new NotSupportedException();
    public override long Position { get => throw new NotSupportedException(); set => throw new NotSupportedException(); }
    public override int Read(byte[] buffer, int offset, int count) => throw new NotSupportedException();
    public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();
    public override void SetLength(long value) => throw new NotSupportedException();
}
