using System.Buffers;
using System.Net;
using Microsoft.Win32.SafeHandles;

namespace Xar.Distribution;

/// <summary>A request body read from a range of an open file, 1 MiB at a time: memory stays bounded whatever the size.</summary>
internal sealed class FileRangeContent(SafeFileHandle file, long offset, long length, Action<long>? progress) : HttpContent
{
    private const int BufferSize = 1 << 20;

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
                int n = await RandomAccess.ReadAsync(file, buffer.AsMemory(0, want), offset + done, cancellationToken);
                if (n == 0)
                    throw new IOException("the file became shorter while it was being pushed");
                await stream.WriteAsync(buffer.AsMemory(0, n), cancellationToken);
                done += n;
                progress?.Invoke(done);
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
