using Xar.Posix;
using static Xar.Posix.RawLibC;

namespace Xar.Runtime.Launching;

/// <summary>
/// The runtime of a self-contained executable (<c>xar pack --self-contained</c>): xarexec's own bytes with a XAR
/// appended at their ELF end rounded up to 4096. When the running executable holds more than its ELF bytes it is
/// such a runtime: every argument is the program's, settings come from the environment only, and the launch core
/// runs on <c>/proc/self/exe</c>, opened once, with the XAR's offset in it. Allocation-free: xarexec's pre-runtime
/// entry calls it before the .NET runtime starts.
/// </summary>
public static unsafe class SelfContainedRuntime
{
    /// <summary><see cref="Open"/>'s answer when this is a self-contained executable that cannot open itself (no /proc).</summary>
    public const int WithoutProc = -2;

    /// <summary>
    /// Opens <c>/proc/self/exe</c> (read-only, close-on-exec). When bytes follow its ELF end, returns the descriptor and
    /// where the XAR must start (<paramref name="archiveOffset"/>; whether one is there the header read decides); otherwise
    /// -1: a plain xarexec. Without /proc, <see cref="WithoutProc"/> when the file the program was exec'd by
    /// (AT_EXECFN) has bytes after its ELF end: it is not found surely enough to run, and must not become a plain
    /// xarexec that takes the program's first argument for a XAR to run.
    /// </summary>
    public static int Open(out long archiveOffset)
    {
        archiveOffset = 0;
        int fd;
        fixed (byte* self = "/proc/self/exe\0"u8)
            fd = RawLibC.Open(self, LibC.O_RDONLY | LibC.O_CLOEXEC, 0);
        if (fd < 0)
        {
            byte* name = (byte*)RawLibC.GetAuxVal(RawLibC.AT_EXECFN);
            if (name == null || (fd = RawLibC.Open(name, LibC.O_RDONLY | LibC.O_CLOEXEC | LibC.O_NONBLOCK, 0)) < 0)
                return -1;
            bool appended = HasBytesAfterElf(fd, out _);
            Close(fd);
            return appended ? WithoutProc : -1;
        }
        if (!HasBytesAfterElf(fd, out long end))
        {
            Close(fd);
            return -1;
        }
        archiveOffset = ElfExtent.XarStart(end);
        return fd;
    }

    /// <summary>True when <paramref name="fd"/> is a regular file with bytes after its ELF end (<paramref name="end"/>).</summary>
    private static bool HasBytesAfterElf(int fd, out long end)
    {
        end = -1;
        LibC.Statx st;
        if (!TrustedDirectory.Stat(fd, &st) || !st.IsRegularFile)
            return false;
        byte* head = stackalloc byte[ElfExtent.HeadBytes];
        int length = 0;
        while (length < ElfExtent.HeadBytes)
        {
            nint n = Pread(fd, head + length, ElfExtent.HeadBytes - length, length);
            if (n < 0 && Errno == LibC.EINTR)
                continue;
            if (n <= 0)
                break;
            length += (int)n;
        }
        end = ElfExtent.End(new ReadOnlySpan<byte>(head, length));
        return end >= 0 && (long)st.Size > end;
    }

    /// <summary>
    /// True when this process is the FUSE server a launch core started from this executable (<see cref="FuseServerLaunch"/>):
    /// its first argument is <c>--fuse-serve</c> and descriptor 3, the image it was handed, is this very executable.
    /// A program's own argument <c>--fuse-serve</c> comes without that descriptor and goes to the program.
    /// </summary>
    public static bool IsFuseServer(ReadOnlySpan<byte> firstArgument, int selfFd)
    {
        if (!firstArgument.SequenceEqual(Fuse.FuseServeCommandLine.Flag))
            return false;
        LibC.Statx image, self;
        return TrustedDirectory.Stat(3, &image) && TrustedDirectory.Stat(selfFd, &self)
            && image.IsSameFileAs(self);
    }

    /// <summary>
    /// What the program is told the file is (XAR_PATH, the bootstrap's $1): the target of <c>/proc/self/exe</c>, an
    /// absolute path without links, whatever name or link it was started by. When that names no longer this file
    /// (the kernel's " (deleted)": removed or replaced since it started, or a memfd), the name it was exec'd by
    /// (AT_EXECFN), as a plain xarexec's XAR_PATH is the name it was given. False when neither can be had or it is too long.
    /// </summary>
    public static bool ProgramPath(int selfFd, byte* buffer, int capacity)
    {
        nint n;
        fixed (byte* self = "/proc/self/exe\0"u8)
            n = ReadLink(self, buffer, capacity - 1);
        if (n <= 0 || n >= capacity - 1)
            return false;
        buffer[n] = 0;
        if (!new ReadOnlySpan<byte>(buffer, (int)n).EndsWith(" (deleted)"u8) || NamesFile(buffer, selfFd))
            return true;
        byte* name = (byte*)GetAuxVal(AT_EXECFN);
        if (name == null)
            return false;
        int length = NativeText.FromCString(name).Length;
        if (length == 0 || length >= capacity)
            return false;
        new ReadOnlySpan<byte>(name, length + 1).CopyTo(new Span<byte>(buffer, capacity));
        return true;
    }

    /// <summary>True when <paramref name="path"/> names the file open as <paramref name="fd"/> (a name that really ends in " (deleted)").</summary>
    private static bool NamesFile(byte* path, int fd)
    {
        int named = RawLibC.Open(path, LibC.O_PATH | LibC.O_CLOEXEC, 0);
        if (named < 0)
            return false;
        LibC.Statx a, b;
        bool same = TrustedDirectory.Stat(named, &a) && TrustedDirectory.Stat(fd, &b)
            && a.IsSameFileAs(b);
        Close(named);
        return same;
    }

    /// <summary>Sets <c>OWD</c> (AppImage's name) to the directory the executable was started from, when getcwd knows it.</summary>
    public static void SetOriginalDirectory()
    {
        byte* cwd = stackalloc byte[PathBuilder.Capacity];
        fixed (byte* name = "OWD\0"u8)
        {
            if (GetCwd(cwd, PathBuilder.Capacity) != null)
                SetEnv(name, cwd, 1);
            else
                UnsetEnv(name); // never an inherited one that names another directory
        }
    }
}
