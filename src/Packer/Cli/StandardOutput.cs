using System.Text;
using Xar.Posix;

namespace Xar.Packer.Cli;

/// <summary>The reader of standard output went away (EPIPE): see <see cref="ExitCodes.BrokenPipe"/>.</summary>
public sealed class BrokenPipeException() : IOException("standard output: broken pipe");

/// <summary>
/// Standard output for every `xar` command. .NET's console stream ignores EPIPE (a write to a closed pipe
/// looks like success), so `xar cat … | head -c1` exited 0 with its output cut short; this one reports
/// it as <see cref="BrokenPipeException"/>. It calls write(2) on descriptor 1, as the console stream
/// does: the file offset moves as for any writer (a FileStream would pwrite at a position of its own).
/// </summary>
public static class StandardOutput
{
    /// <summary>Descriptor 1 as an unbuffered stream.</summary>
    public static Stream Stream { get; } = new DescriptorStream(1);

    /// <summary>Text to descriptor 1 (UTF-8, written at each call).</summary>
    public static TextWriter Writer { get; } = new StreamWriter(Stream, new UTF8Encoding(false), 4096, leaveOpen: true) { AutoFlush = true };

    private sealed unsafe class DescriptorStream(int fd) : Stream
    {
        public override void Write(ReadOnlySpan<byte> buffer)
        {
            fixed (byte* start = buffer)
            {
                int done = 0;
                while (done < buffer.Length)
                {
                    nint n = LibC.Write(fd, start + done, buffer.Length - done);
                    if (n >= 0)
                    {
                        done += (int)n;
                        continue;
                    }
                    int errno = LibC.LastError;
                    if (errno == LibC.EINTR)
                        continue;
                    if (errno == LibC.EPIPE)
                        throw new BrokenPipeException();
                    throw new IOException("standard output: " + LibC.Describe(errno));
                }
            }
        }

        public override void Write(byte[] buffer, int offset, int count) => Write(buffer.AsSpan(offset, count));

        public override void WriteByte(byte value) => Write([value]);

        public override void Flush()
        {
        }

        // Nothing to close: descriptor 1 belongs to the process.
        protected override void Dispose(bool disposing)
        {
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
}
