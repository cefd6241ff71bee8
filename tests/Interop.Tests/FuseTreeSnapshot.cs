using System.Security.Cryptography;
using System.Text;
using Xar.Posix;

namespace Xar.Interop.Tests;

/// <summary>
/// Everything a mounted tree shows, one line per path, for comparing the built-in FUSE server with
/// the kernel's squashfs driver field by field: type and mode, inode number, link count, owner,
/// size, blocks, st_blksize, mtime, device numbers, symlink target, xattrs (values included, empty
/// ones too), a SHA-256 of each regular file, and each directory's readdir (names, d_ino, d_type).
/// Names are raw bytes; the walk goes through directory descriptors, so paths beyond PATH_MAX work.
/// (The shared tree comparison compares less: no inode numbers, link counts or blocks.)
/// A portable snapshot leaves out what differs between any two file systems holding the same
/// files (inode numbers, blocks, st_blksize, directory sizes, atime/ctime, sub-second mtimes,
/// d_ino, readdir order), for comparing a mount with its source tree.
/// </summary>
internal static unsafe class FuseTreeSnapshot
{
    [ThreadStatic]
    private static bool _portable;

    public static List<string> Take(string root, bool portable = false)
    {
        _portable = portable;
        var lines = new List<string>();
        byte[] path = NativePath.ToCString(root);
        fixed (byte* p = path)
        {
            int fd = LibC.OpenAt(LibC.AT_FDCWD, p, LibC.O_RDONLY | LibC.O_DIRECTORY | LibC.O_CLOEXEC, 0);
            if (fd < 0)
                throw new IOException($"cannot open {root}: {LibC.Describe(LibC.LastError)}");
            lines.Add(Describe(LibC.AT_FDCWD, path.AsSpan(0, path.Length - 1), ".", fd));
            Walk(fd, "", lines);
        }
        return lines;
    }

    private static void Walk(int dirFd, string prefix, List<string> lines)
    {
        nint dir = LibC.FdOpenDir(dirFd);
        if (dir == 0)
            throw new IOException($"fdopendir {prefix}: {LibC.Describe(LibC.LastError)}");
        try
        {
            var entries = new List<(byte[] Name, ulong Ino, byte Type)>();
            byte* ent;
            while ((ent = LibC.ReadDir(dir)) != null)
            {
                var span = new ReadOnlySpan<byte>(ent + LibC.DirentNameOffset, 256);
                entries.Add((span[..span.IndexOf((byte)0)].ToArray(), *(ulong*)ent, ent[LibC.DirentTypeOffset]));
            }
            lines.Add($"readdir {prefix}/: " + (_portable
                ? string.Join(" ", entries.Select(e => $"{Show(e.Name)}:{e.Type}").Order(StringComparer.Ordinal))
                : string.Join(" ", entries.Select(e => $"{Show(e.Name)}={e.Ino}:{e.Type}"))));
            foreach (var (name, _, _) in entries.OrderBy(e => Convert.ToHexString(e.Name), StringComparer.Ordinal))
            {
                if (name.AsSpan().SequenceEqual("."u8) || name.AsSpan().SequenceEqual(".."u8))
                    continue;
                string display = prefix + "/" + Show(name);
                lines.Add(Describe(dirFd, name, display, -1));
                byte[] cname = NativePath.ToCString(name);
                fixed (byte* n = cname)
                {
                    int child = LibC.OpenAt(dirFd, n, LibC.O_RDONLY | LibC.O_DIRECTORY | LibC.O_NOFOLLOW | LibC.O_CLOEXEC, 0);
                    if (child >= 0)
                        Walk(child, display, lines);
                }
            }
        }
        finally
        {
            LibC.CloseDir(dir);
        }
    }

    // One path's line. dirFd + name, or (root) an open descriptor.
    private static string Describe(int dirFd, ReadOnlySpan<byte> name, string display, int openFd)
    {
        byte[] cname = NativePath.ToCString(name);
        LibC.Statx st;
        fixed (byte* n = cname)
        {
            int r = openFd >= 0 ? LibC.FStatx(openFd, out st) : LibC.StatxAt(dirFd, n, LibC.AT_SYMLINK_NOFOLLOW, LibC.STATX_BASIC_STATS, &st);
            if (r != 0)
                throw new IOException($"statx {display}: {LibC.Describe(LibC.LastError)}");
        }
        var sb = new StringBuilder();
        sb.Append(display).Append(": mode=").Append(Convert.ToString(st.Mode, 8));
        if (!_portable)
            sb.Append(" ino=").Append(st.Ino);
        sb.Append(" nlink=").Append(st.Nlink).Append(" uid=").Append(st.Uid).Append(" gid=").Append(st.Gid);
        if (!_portable || !st.IsDirectory)
            sb.Append(" size=").Append(st.Size);
        if (!_portable)
            sb.Append(" blocks=").Append(st.Blocks).Append(" blksize=").Append(st.BlockSize);
        sb.Append(" mtime=").Append(st.Mtime.Seconds);
        if (!_portable)
            sb.Append('.').Append(st.Mtime.Nanoseconds).Append(" atime=").Append(st.Atime.Seconds).Append(" ctime=").Append(st.Ctime.Seconds);
        sb.Append(" rdev=").Append(st.RdevMajor).Append(':').Append(st.RdevMinor);
        // Through /proc/self/fd: any depth, and never following the entry itself.
        string at = openFd >= 0 ? $"/proc/self/fd/{openFd}" : $"/proc/self/fd/{dirFd}/";
        byte[] linkPath = openFd >= 0 ? NativePath.ToCString(at) : NativePath.ToCString([.. Encoding.ASCII.GetBytes(at), .. name]);
        if (st.IsSymlink)
        {
            byte* target = stackalloc byte[8192];
            fixed (byte* n = cname)
            {
                nint len = LibC.ReadLinkAt(dirFd, n, target, 8192);
                sb.Append(" target=").Append(Show(new ReadOnlySpan<byte>(target, (int)len)));
            }
        }
        sb.Append(" xattrs=").Append(Xattrs(linkPath));
        if (st.IsRegularFile)
        {
            fixed (byte* n = cname)
            {
                int fd = openFd >= 0 ? -1 : LibC.OpenAt(dirFd, n, LibC.O_RDONLY | LibC.O_NOFOLLOW | LibC.O_CLOEXEC, 0);
                if (fd < 0)
                {
                    sb.Append(" data=error:").Append(LibC.LastError);
                }
                else
                {
                    sb.Append(" sha256=").Append(Hash(fd, out int error));
                    if (error != 0)
                        sb.Append(" read-error=").Append(error);
                    LibC.Close(fd);
                }
            }
        }
        return sb.ToString();
    }

    private static string Xattrs(byte[] path)
    {
        byte* list = stackalloc byte[65536];
        nint n;
        fixed (byte* p = path)
            n = LibC.LListXattr(p, list, 65536);
        if (n < 0)
            return "error:" + LibC.LastError;
        var names = new List<byte[]>();
        var all = new ReadOnlySpan<byte>(list, (int)n);
        while (!all.IsEmpty)
        {
            int end = all.IndexOf((byte)0);
            names.Add(all[..end].ToArray());
            all = all[(end + 1)..];
        }
        var parts = new List<string>();
        byte* value = stackalloc byte[65536];
        foreach (var name in names.OrderBy(x => Convert.ToHexString(x)))
        {
            byte[] cname = NativePath.ToCString(name);
            nint len;
            fixed (byte* p = path)
            fixed (byte* q = cname)
                len = LibC.LGetXattr(p, q, value, 65536);
            parts.Add(Show(name) + "=" + (len < 0 ? "error:" + LibC.LastError : "[" + Convert.ToHexString(new ReadOnlySpan<byte>(value, (int)len)) + "]"));
        }
        return "{" + string.Join(",", parts) + "}";
    }

    /// <summary>SHA-256 of what read(2) returns in 1 MiB pieces; <paramref name="error"/> is the errno that stopped it, if any.</summary>
    public static string Hash(int fd, out int error)
    {
        error = 0;
        using var sha = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
        byte[] buffer = new byte[1 << 20];
        fixed (byte* b = buffer)
        {
            while (true)
            {
                nint n = LibC.Read(fd, b, buffer.Length);
                if (n < 0)
                {
                    error = LibC.LastError;
                    break;
                }
                if (n == 0)
                    break;
                sha.AppendData(buffer, 0, (int)n);
            }
        }
        return Convert.ToHexString(sha.GetHashAndReset()).ToLowerInvariant();
    }

    /// <summary>The statfs fields a file system reports for itself (not f_type, f_fsid or f_flags).</summary>
    public static string StatFs(string path)
    {
        long* b = stackalloc long[16];
        if (LibC.StatFs(path, (byte*)b) != 0)
            throw new IOException($"statfs {path}: {LibC.Describe(LibC.LastError)}");
        return $"bsize={b[1]} blocks={b[2]} bfree={b[3]} bavail={b[4]} files={b[5]} ffree={b[6]} namelen={b[8]} frsize={b[9]}";
    }

    private static string Show(ReadOnlySpan<byte> name) => NativePath.Display(name);

    /// <summary>Fails with the first differing lines when two snapshots differ.</summary>
    public static void AssertEqual(List<string> expected, List<string> actual, string what)
    {
        var differences = new List<string>();
        for (int i = 0; i < Math.Max(expected.Count, actual.Count) && differences.Count < 10; i++)
        {
            string? e = i < expected.Count ? expected[i] : null;
            string? a = i < actual.Count ? actual[i] : null;
            if (e != a)
                differences.Add($"  expected: {e}\n  actual:   {a}");
        }
        if (differences.Count > 0)
            throw new Xunit.Sdk.XunitException($"{what}: {expected.Count} vs {actual.Count} lines, first differences:\n{string.Join("\n", differences)}");
    }
}
