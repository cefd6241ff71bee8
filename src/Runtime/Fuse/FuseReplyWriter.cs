using System.Buffers.Binary;
using System.Runtime.InteropServices;
using static Xar.Posix.LibC;

namespace Xar.Runtime.Fuse;

/// <summary>
/// Builds replies in one thread's buffer (struct fuse_out_header, then the payload) and writes each
/// with a single write(2) to /dev/fuse, as the protocol requires. The buffer is native memory,
/// allocated once per thread, large enough for the largest READ the kernel may send.
/// </summary>
internal sealed unsafe class FuseReplyWriter : IDisposable
{
    private readonly int _device;
    private byte* _buffer;

    public FuseReplyWriter(int device, int payloadCapacity)
    {
        _device = device;
        PayloadCapacity = payloadCapacity;
        _buffer = (byte*)NativeMemory.Alloc((nuint)(FuseProtocol.OutHeaderSize + payloadCapacity));
    }

    public int PayloadCapacity { get; }

    /// <summary>Where the payload goes.</summary>
    public byte* PayloadPointer => _buffer + FuseProtocol.OutHeaderSize;

    public Span<byte> Payload => new(PayloadPointer, PayloadCapacity);

    /// <summary>Replies success with the first <paramref name="payloadLength"/> bytes of the payload. False when the kernel no longer waits for it.</summary>
    public bool Send(ulong unique, int payloadLength) => Write(unique, 0, payloadLength);

    /// <summary>Replies an error (a positive errno).</summary>
    public bool Error(ulong unique, int errno) => Write(unique, -errno, 0);

    private bool Write(ulong unique, int error, int payloadLength)
    {
        int length = FuseProtocol.OutHeaderSize + payloadLength;
        var header = new Span<byte>(_buffer, FuseProtocol.OutHeaderSize);
        BinaryPrimitives.WriteUInt32LittleEndian(header, (uint)length);
        BinaryPrimitives.WriteInt32LittleEndian(header[4..], error);
        BinaryPrimitives.WriteUInt64LittleEndian(header[8..], unique);
        while (true)
        {
            nint n = Posix.LibC.Write(_device, _buffer, length);
            if (n >= 0)
                return true;
            // ENOENT: the request was interrupted and is gone; anything else (ENODEV: unmounted) the read loop sees too.
            if (LastError != EINTR)
                return false;
        }
    }

    public void Dispose()
    {
        NativeMemory.Free(_buffer);
        _buffer = null;
    }
}
