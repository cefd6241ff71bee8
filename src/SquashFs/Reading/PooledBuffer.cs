using System.Buffers;

namespace Xar.SquashFs.Reading;

/// <summary>Scratch buffers for blocks as stored (compressed), from the shared array pool.</summary>
internal static class PooledBuffer
{
    public static byte[] Rent(int size) => ArrayPool<byte>.Shared.Rent(size);

    public static void Return(byte[] buffer) => ArrayPool<byte>.Shared.Return(buffer);
}
