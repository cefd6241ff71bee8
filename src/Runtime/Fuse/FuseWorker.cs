using System.Runtime.InteropServices;
using static Xar.Posix.LibC;

namespace Xar.Runtime.Fuse;

/// <summary>
/// One of the server's threads: reads a request from /dev/fuse (a blocking read, several threads
/// on one descriptor, each request goes to exactly one of them), answers it, and again, until the
/// file system is unmounted. Owns its buffers, so answering allocates nothing.
/// </summary>
internal sealed unsafe class FuseWorker : IDisposable
{
    private readonly int _device;
    private readonly FuseDispatcher _dispatcher;
    private readonly int _requestSize;
    private byte* _request;
    private byte* _scratch;

    public FuseWorker(int device, FuseDispatcher dispatcher, int blockSize)
    {
        _device = device;
        _dispatcher = dispatcher;
        _requestSize = FuseDispatcher.RequestBufferSize;
        _request = (byte*)NativeMemory.Alloc((nuint)_requestSize);
        _scratch = (byte*)NativeMemory.Alloc((nuint)blockSize);
        Reply = new FuseReplyWriter(device, FuseDispatcher.ReplyCapacity);
    }

    public FuseReplyWriter Reply { get; }

    /// <summary>A block-sized buffer for a block that the shared cache has no free slot for.</summary>
    public byte* Scratch => _scratch;

    /// <summary>
    /// Node ids counted for the READDIRPLUS reply being built, taken back if it cannot be sent. Made by this thread at its
    /// first READDIRPLUS: 52 KiB zeroed per thread cost the server 0.1 ms on its way to the mount, and most launches list nothing.
    /// </summary>
    public ulong[] Remembered => _remembered ??= new ulong[FuseDispatcher.ReplyCapacity / FuseProtocol.Align8(FuseProtocol.DirentPlusHeaderSize + 1) + 1];

    private ulong[]? _remembered;

    /// <summary>Why the loop ended: null when the file system went away (unmounted, DESTROY), else the error.</summary>
    public string? Failure { get; private set; }

    public void Run()
    {
        while (true)
        {
            nint n = Read(_device, _request, _requestSize);
            if (n < 0)
            {
                int errno = LastError;
                // ENOENT: the request was interrupted before we read it; EINTR/EAGAIN: try again.
                if (errno is ENOENT or EINTR or EAGAIN)
                    continue;
                // ENODEV: unmounted (the connection is gone); anything else ends this thread too.
                if (errno != ENODEV)
                    Failure = $"reading /dev/fuse: {Describe(errno)}";
                return;
            }
            if (n == 0)
                return;
            if (!_dispatcher.Dispatch(new ReadOnlySpan<byte>(_request, (int)n), this))
                return;
        }
    }

    public void Dispose()
    {
        Reply.Dispose();
        NativeMemory.Free(_request);
        NativeMemory.Free(_scratch);
        _request = null;
        _scratch = null;
    }
}
