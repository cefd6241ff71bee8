using Microsoft.Win32.SafeHandles;
using Xar.SquashFs.Format;

namespace Xar.SquashFs.Reading;

/// <summary>
/// Positional, thread-safe reads of the bytes of one image (offset 0 = the superblock).
/// Every read is checked against the image length, so a reference past the end is reported as
/// corruption instead of a short read.
/// </summary>
internal abstract class ImageSource : IDisposable
{
    /// <summary>Bytes readable from the image start (file length minus the image offset).</summary>
    public abstract long Length { get; }

    /// <summary>Reads exactly <c>buffer.Length</c> bytes at <paramref name="position"/> or throws.</summary>
    public void ReadExactly(long position, Span<byte> buffer, Subject what)
    {
        if (position < 0 || position > Length || buffer.Length > Length - position)
            throw new SquashFsCorruptException($"{what} at byte {position} (+{buffer.Length}) lies outside the image ({Length} bytes)");
        int done = 0;
        while (done < buffer.Length)
        {
            int n = ReadAt(position + done, buffer[done..]);
            if (n <= 0)
                throw new SquashFsCorruptException($"{what} at byte {position + done}: unexpected end of image");
            done += n;
        }
    }

    protected abstract int ReadAt(long position, Span<byte> buffer);

    public abstract void Dispose();

    public static ImageSource FromFile(SafeFileHandle handle, long offset, bool ownsHandle) =>
        new FileImageSource(handle, offset, ownsHandle);

    public static ImageSource FromStream(Stream stream, long offset, bool leaveOpen) =>
        new StreamImageSource(stream, offset, leaveOpen);

    private sealed class FileImageSource(SafeFileHandle handle, long offset, bool ownsHandle) : ImageSource
    {
        private readonly long _length = Math.Max(0, RandomAccess.GetLength(handle) - offset);

        public override long Length => _length;

        // RandomAccess uses pread: no shared file position, so parallel readers need no lock.
        protected override int ReadAt(long position, Span<byte> buffer) =>
            RandomAccess.Read(handle, buffer, offset + position);

        public override void Dispose()
        {
            if (ownsHandle)
                handle.Dispose();
        }
    }

    private sealed class StreamImageSource : ImageSource
    {
        private readonly Stream _stream;
        private readonly long _offset;
        private readonly bool _leaveOpen;
        private readonly long _length;
        private readonly Lock _gate = new();

        public StreamImageSource(Stream stream, long offset, bool leaveOpen)
        {
            if (!stream.CanRead || !stream.CanSeek)
                throw new ArgumentException("The stream must be readable and seekable.", nameof(stream));
            _stream = stream;
            _offset = offset;
            _leaveOpen = leaveOpen;
            _length = Math.Max(0, stream.Length - offset);
        }

        public override long Length => _length;

        protected override int ReadAt(long position, Span<byte> buffer)
        {
            lock (_gate)
            {
                _stream.Position = _offset + position;
                return _stream.Read(buffer);
            }
        }

        public override void Dispose()
        {
            if (!_leaveOpen)
                _stream.Dispose();
        }
    }
}
