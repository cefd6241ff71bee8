using Microsoft.Win32.SafeHandles;
using Xar.Posix;
using Xar.Runtime.Signing;

namespace Xar.Packer.Cli;

/// <summary>
/// Reads the key files of <c>xar sign</c> and <c>xar verify</c>, checked on the descriptor read: a regular file (a link to one counts) that nobody but
/// its owner can change, and, for a secret key, that nobody else can read either (minisign -G writes it 0600).
/// Anything else is bad input (exit 2).
/// </summary>
public static class KeyFile
{
    public const int MaxBytes = 64 * 1024;

    public static byte[] Read(string path, bool secret)
    {
        // Checked and read through one descriptor (O_NONBLOCK: a FIFO named as the key must not block the open).
        int fd = LibC.Open(path, LibC.O_RDONLY | LibC.O_NONBLOCK | LibC.O_CLOEXEC, 0);
        if (fd < 0)
            throw new UsageException($"cannot read the key: {LibC.Describe(LibC.LastError)}", path);
        using var handle = new SafeFileHandle(fd, ownsHandle: true);
        if (LibC.FStatx(fd, out var st) != 0)
            throw new UsageException($"cannot read the key: {LibC.Describe(LibC.LastError)}", path);
        if (!st.IsRegularFile)
            throw new UsageException("the key is not a regular file", path);
        uint permissions = st.Permissions;
        if ((permissions & 0x12) != 0)
            throw new UsageException($"the key file is writable by others (mode {Convert.ToString(permissions, 8).PadLeft(4, '0')}): not used; chmod go-w it", path);
        if (secret && (permissions & 0x3F) != 0)
            throw new UsageException($"the secret key file can be read by others (mode {Convert.ToString(permissions, 8).PadLeft(4, '0')}): not used; chmod 600 it", path);
        if (st.Size > MaxBytes)
            throw new UsageException($"not a minisign key: {st.Size} bytes", path);
        try
        {
            return GivenFile.ReadAll(handle, st.Size);
        }
        catch (IOException e)
        {
            throw new UsageException($"cannot read the key: {e.Message}", path);
        }
    }

    public static MinisignPublicKey ReadPublic(string path)
    {
        byte[] text = Read(path, secret: false);
        try
        {
            return MinisignPublicKey.Parse(text);
        }
        catch (SignatureFormatException e)
        {
            throw new UsageException(e.Message, path);
        }
    }
}
