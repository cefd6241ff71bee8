using Microsoft.Win32.SafeHandles;

namespace Xar.Runtime;

/// <summary>
/// Reads a XAR header through an open descriptor (never a path, so the bytes come from the file the caller
/// opened): at most <see cref="XarHeader.BytesNeeded"/> bytes from where the archive starts, which is all any
/// header rule looks at. The launch core, which runs before the .NET runtime, reads with its own allocation-free
/// loop (<c>LaunchCore.ReadHead</c>); every managed reader uses this one.
/// </summary>
public static class XarHeaderReader
{
    /// <summary>The first bytes of the archive at <paramref name="archiveOffset"/>: fewer than asked only where the file ends.</summary>
    /// <exception cref="IOException">The file cannot be read.</exception>
    public static byte[] ReadBytes(SafeFileHandle handle, long archiveOffset)
    {
        var data = new byte[XarHeader.BytesNeeded];
        int length = ReadAtMost(handle, data, archiveOffset);
        return length == data.Length ? data : data[..length];
    }

    /// <summary>The header at <paramref name="archiveOffset"/>, parsed.</summary>
    /// <exception cref="XarHeaderException">The bytes break a header rule; the message names it.</exception>
    /// <exception cref="IOException">The file cannot be read.</exception>
    public static XarHeader Read(SafeFileHandle handle, long archiveOffset) => XarHeader.Parse(ReadBytes(handle, archiveOffset));

    /// <summary>Fills <paramref name="buffer"/> from <paramref name="position"/> until it is full or the file ends: how many bytes.</summary>
    /// <exception cref="IOException">The file cannot be read.</exception>
    public static int ReadAtMost(SafeFileHandle handle, Span<byte> buffer, long position)
    {
        int total = 0;
        while (total < buffer.Length)
        {
            int n = RandomAccess.Read(handle, buffer[total..], position + total);
            if (n == 0)
                break;
            total += n;
        }
        return total;
    }
}
