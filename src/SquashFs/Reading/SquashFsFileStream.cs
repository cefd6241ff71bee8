namespace Xar.SquashFs.Reading;

/// <summary>
/// A read-only, seekable view of one file in an image. Only the blocks a read touches are read
/// and decompressed; the last decoded block is kept for the next read.
/// </summary>
internal sealed class SquashFsFileStream : Stream
{
    private readonly FileLayout _layout;
    private readonly DataBlockReader _data;
    private byte[]? _buffer;
    private int _bufferedBlock = -1; // -2 = the tail
    private long _position;
    private bool _disposed;

    public SquashFsFileStream(FileLayout layout, DataBlockReader data)
    {
        _layout = layout;
        _data = data;
    }

    public override bool CanRead => !_disposed;
    public override bool CanSeek => !_disposed;
    public override bool CanWrite => false;
    public override long Length => _layout.Length;

    public override long Position
    {
        get => _position;
        set => _position = value >= 0 ? value : throw new ArgumentOutOfRangeException(nameof(value));
    }

    public override int Read(byte[] buffer, int offset, int count) => Read(buffer.AsSpan(offset, count));

    public override int Read(Span<byte> destination)
    {
        ObjectDisposedException.ThrowIf(_disposed, this);
        int total = 0;
        while (!destination.IsEmpty && _position < _layout.Length)
        {
            int block = (int)(_position / _layout.BlockSize);
            int id = block < _layout.BlockCount ? block : -2;
            long blockStart = id == -2 ? _layout.TailOffset : (long)block * _layout.BlockSize;
            int blockLength = id == -2 ? _layout.TailLength : _layout.BlockLength(block);
            if (id != _bufferedBlock)
            {
                _buffer ??= new byte[_layout.BlockSize];
                if (id == -2)
                    _layout.ReadTail(_data, _buffer);
                else
                    _layout.ReadBlock(_data, block, _buffer);
                _bufferedBlock = id;
            }
            int inBlock = (int)(_position - blockStart);
            int n = Math.Min(destination.Length, blockLength - inBlock);
            _buffer.AsSpan(inBlock, n).CopyTo(destination);
            destination = destination[n..];
            _position += n;
            total += n;
        }
        return total;
    }

    public override long Seek(long offset, SeekOrigin origin)
    {
        long target = origin switch
        {
            SeekOrigin.Begin => offset,
            SeekOrigin.Current => _position + offset,
            SeekOrigin.End => _layout.Length + offset,
            _ => throw new ArgumentOutOfRangeException(nameof(origin)),
        };
        Position = target;
        return target;
    }

    public override void Flush() { }
    public override void SetLength(long value) => throw new NotSupportedException();
    public override void Write(byte[] buffer, int offset, int count) => throw new NotSupportedException();

    protected override void Dispose(bool disposing)
    {
        _disposed = true;
        _buffer = null;
        base.Dispose(disposing);
    }
}
