using System.Buffers;
using System.Net;
using Microsoft.Win32.SafeHandles;

namespace Xar.Distribution;

/// <summary>
/// A request body read from a range of an open file, 4 MiB at a time: memory stays bounded whatever the size. The
/// file is read synchronously: an asynchronous file read is a hand-off to the thread pool per buffer, which costs
/// more than it saves in a command that does nothing else meanwhile.
/// </summary>
internal sealed class FileRangeContent(SafeFileHandle file, long offset, long length, Action<long>? progress) : HttpContent
{
    private const int BufferSize = 4 << 20;
    private const int SliceSize = 256 << 10;

    /// <summary>The idle timer of the request this body is sent with (<see cref="RegistryClient"/> sets it).</summary>
    public IdleTimer? Idle { get; set; }

    protected override async Task SerializeToStreamAsync(Stream stream, TransportContext? context) =>
        await SerializeToStreamAsync(stream, context, CancellationToken.None);

    protected override async Task SerializeToStreamAsync(Stream stream, TransportContext? context, CancellationToken cancellationToken)
    {
        byte[] buffer = ArrayPool<byte>.Shared.Rent(BufferSize);
        try
        {
            long done = 0;
            while (done < length)
            {
                int want = (int)Math.Min(BufferSize, length - done);
                int n = RandomAccess.Read(file, buffer.AsSpan(0, want), offset + done);
                if (n == 0)
                    throw new IOException("the file became shorter while it was being pushed");
                // Handed over in slices, each kicking the idle timer: a slow link stays above its floor (a slice per
                // IdleTimeout), a registry that takes nothing does not.
                if (Idle is { } idle)
                    idle.Waiting = "receiving";
                for (int at = 0; at < n; at += SliceSize)
                {
                    await stream.WriteAsync(buffer.AsMemory(at, Math.Min(SliceSize, n - at)), cancellationToken);
                    Idle?.Kick();
                }
                done += n;
                progress?.Invoke(done);
            }
            if (Idle is { } sent)
            {
                sent.Waiting = "sending";
                sent.Kick();
            }
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(buffer);
        }
    }

    protected override bool TryComputeLength(out long size)
    {
        size = length;
        return true;
    }
}
