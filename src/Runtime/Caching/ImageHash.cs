using System.Buffers;
using System.IO.Hashing;
using Microsoft.Win32.SafeHandles;

namespace Xar.Runtime;

/// <summary>
/// The hash a cache entry records of the image it was extracted from (<see cref="Launching.CacheEntryRecord"/>):
/// XxHash128 of the bytes from the image's offset to the end of the file, as <c>xxh128:HEX</c>. Not a signature:
/// it tells two images apart, which is all the cache needs, and is managed code (the self-contained runtime
/// cannot count on OpenSSL) that reads at memory speed.
/// </summary>
public static class ImageHash
{
    public const string Prefix = "xxh128:";

    public static string Compute(SafeFileHandle file, long imageOffset)
    {
        var hash = new XxHash128();
        byte[] buffer = ArrayPool<byte>.Shared.Rent(1 << 20);
        try
        {
            long position = imageOffset;
            int n;
            while ((n = RandomAccess.Read(file, buffer, position)) > 0)
            {
                hash.Append(buffer.AsSpan(0, n));
                position += n;
            }
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(buffer);
        }
        return Prefix + Convert.ToHexStringLower(hash.GetCurrentHash());
    }
}
