using System.Text;
using Xar.Posix;

namespace Xar.Posix;

/// <summary>Helpers for byte names and errno → exception.</summary>
public static class NativePath
{
    /// <summary>The bytes plus a NUL, for libc.</summary>
    public static byte[] ToCString(ReadOnlySpan<byte> bytes)
    {
        var b = new byte[bytes.Length + 1];
        bytes.CopyTo(b);
        return b;
    }

    public static byte[] ToCString(string path) => ToCString(LosslessUtf8.Encode(path));

    /// <summary>DIR/NAME; just NAME when DIR is empty, no second '/' when DIR ends in one ("/").</summary>
    public static byte[] Join(ReadOnlySpan<byte> dir, ReadOnlySpan<byte> name)
    {
        if (dir.IsEmpty)
            return name.ToArray();
        int separator = dir[^1] == (byte)'/' ? 0 : 1;
        var b = new byte[dir.Length + separator + name.Length];
        dir.CopyTo(b);
        if (separator == 1)
            b[dir.Length] = (byte)'/';
        name.CopyTo(b.AsSpan(dir.Length + separator));
        return b;
    }

    /// <summary>A name for messages: UTF-8 where it is, \xNN escapes for other bytes.</summary>
    public static string Display(ReadOnlySpan<byte> bytes)
    {
        var sb = new StringBuilder(bytes.Length);
        int i = 0;
        while (i < bytes.Length)
        {
            if (Rune.DecodeFromUtf8(bytes[i..], out var rune, out int used) == System.Buffers.OperationStatus.Done && !Rune.IsControl(rune))
            {
                sb.Append(rune.ToString());
                i += used;
            }
            else
            {
                sb.Append($"\\x{bytes[i]:x2}");
                i++;
            }
        }
        return sb.ToString();
    }

    /// <summary>
    /// The path the kernel holds for an open descriptor (its /proc/self/fd link, read as bytes: the real path, every
    /// link on the way resolved); null when /proc cannot tell (not mounted, a path of PATH_MAX or more).
    /// </summary>
    public static unsafe byte[]? OfDescriptor(int fd)
    {
        byte* link = stackalloc byte[32];
        var name = new Span<byte>(link, 32);
        "/proc/self/fd/"u8.CopyTo(name);
        fd.TryFormat(name[14..], out int digits, default, System.Globalization.CultureInfo.InvariantCulture);
        name[14 + digits] = 0;
        var target = new byte[LongPath.PathMax];
        nint length;
        fixed (byte* t = target)
            length = LibC.ReadLink(link, t, target.Length);
        return length > 0 && length < target.Length && target[0] == (byte)'/' ? target[..(int)length] : null;
    }

    /// <summary>
    /// <see cref="Path.GetFullPath(string)"/> that keeps every byte: a relative path is made absolute from the working
    /// directory as getcwd(3) gives it (<see cref="LosslessUtf8.Decode"/>), never from .NET's decoded copy, in which a byte
    /// that is not UTF-8 is U+FFFD and would name another directory.
    /// </summary>
    public static string FullPath(string path) =>
        Path.IsPathRooted(path) ? Path.GetFullPath(path) : Path.GetFullPath(path, CurrentDirectory());

    /// <summary>The working directory's path, lossless (falls back to .NET's when getcwd fails, e.g. a deleted directory).</summary>
    public static unsafe string CurrentDirectory()
    {
        var buffer = new byte[LongPath.PathMax];
        fixed (byte* b = buffer)
        {
            if (RawLibC.GetCwd(b, (nuint)buffer.Length) == null)
                return Environment.CurrentDirectory;
        }
        return LosslessUtf8.Decode(buffer.AsSpan(0, buffer.AsSpan().IndexOf((byte)0)));
    }

    /// <summary>
    /// mkdir -p by the bytes (a lossless string, <see cref="LosslessUtf8"/>): <paramref name="path"/> and what is missing
    /// above it, each made with <paramref name="mode"/> (less the umask). An existing directory is fine.
    /// </summary>
    /// <exception cref="IOException">A part could not be made (the message names it).</exception>
    public static void CreateDirectories(string path, uint mode)
    {
        if (LibC.StatxAt(LibC.AT_FDCWD, path, 0, LibC.STATX_BASIC_STATS, out _) == 0)
            return;
        if (Path.GetDirectoryName(path.TrimEnd('/')) is { Length: > 1 } parent)
            CreateDirectories(parent, mode);
        if (LibC.Mkdir(path, (int)mode) != 0 && LibC.LastError is int errno && errno != LibC.EEXIST)
            throw new IOException($"cannot create {LosslessUtf8.Display(path)}: {LibC.Describe(errno)}");
    }

    public static IOException Error(string operation, ReadOnlySpan<byte> path, int errno) =>
        new($"cannot {operation} {Display(path)}: {LibC.Describe(errno)}");
}
