using Xar.Runtime.Launching;

namespace Xar.Runtime.Fuse;

/// <summary>What is wrong with a <c>--fuse-serve</c> command line (<see cref="FuseServeCommandLine.Fault"/>).</summary>
internal enum FuseServeFault : byte
{
    None,
    /// <summary>The option at FaultAt is the last argument.</summary>
    NeedsValue,
    /// <summary>The option at FaultAt takes a number, and the next argument is not one.</summary>
    NotANumber,
    /// <summary>The option at FaultAt is unknown, or its number is out of range.</summary>
    BadValue,
    NotOneMountPoint,
    NoImageFd,
    EmptyMountPoint,
}

/// <summary>
/// The arguments after <c>--fuse-serve</c> (<see cref="FuseDaemon"/>'s synopsis), read from argv's bytes and written
/// back without allocating: the one reading of that command line, for the steps before the runtime (detaching, the
/// early fusermount) and for Main, which turns it into <see cref="FuseDaemon.Arguments"/>; and the one writing
/// (<see cref="Write"/>), for the launch core before the runtime (FuseServerLaunch) and for
/// <see cref="FuseDaemon.Arguments.ToArgv"/>. Values point into argv.
/// </summary>
internal unsafe struct FuseServeCommandLine
{
    /// <summary>argv[1] of the server. (<see cref="FuseDaemon.Flag"/> is the same as a const string, for Main's dispatch.)</summary>
    public static ReadOnlySpan<byte> Flag => "--fuse-serve"u8;

    // Each option spelled once, for TryParse and Write.
    private static ReadOnlySpan<byte> ImageFdOption => "--image-fd"u8;
    private static ReadOnlySpan<byte> ReadyFdOption => "--ready-fd"u8;
    private static ReadOnlySpan<byte> OffsetOption => "--offset"u8;
    private static ReadOnlySpan<byte> TimeoutOption => "--timeout"u8;
    private static ReadOnlySpan<byte> AllowRootOption => "--allow-root"u8;
    private static ReadOnlySpan<byte> AllowOtherOption => "--allow-other"u8;
    private static ReadOnlySpan<byte> FsNameOption => "--fsname"u8;
    private static ReadOnlySpan<byte> ThreadsOption => "--threads"u8;
    private static ReadOnlySpan<byte> CacheMiBOption => "--cache-mib"u8;
    private static ReadOnlySpan<byte> ForegroundOption => "--foreground"u8;
    private static ReadOnlySpan<byte> EndOfOptions => "--"u8;

    /// <summary>The decoded-block cache without <c>--cache-mib</c>.</summary>
    public const int DefaultCacheMiB = 16;
    private const int MaxThreads = 1024;
    private const int MaxCacheMiB = 65536;

    /// <summary>Pointers <see cref="Write"/> may fill, the closing null included: the flag, 7 options with values, 3 without (one of the access two), "--", the mount point.</summary>
    public const int MaxArguments = 1 + 7 * 2 + 3 + 1 + 1 + 1;

    /// <summary>Bytes <see cref="Write"/> may fill with option names and numbers (about 190; the fsname and the mount point are pointed to, not copied).</summary>
    public const int TextCapacity = 256;

    public int ImageFd;
    public long Offset;
    public int TimeoutSeconds;
    public int ReadyFd;
    /// <summary>--fsname's value (NUL-terminated), or null.</summary>
    public byte* FsName;
    public FuseAccess Access;
    public int Threads;
    public int CacheMiB;
    public bool Foreground;
    /// <summary>The last argument (NUL-terminated, any bytes, maybe relative).</summary>
    public byte* MountPoint;
    public FuseServeFault Fault;
    /// <summary>The index in argv of the option at fault.</summary>
    public int FaultAt;

    /// <summary>Reads argv[<paramref name="first"/>..<paramref name="argc"/>); false, with <see cref="Fault"/>, when it is wrong.</summary>
    public static bool TryParse(int argc, byte** argv, int first, out FuseServeCommandLine line)
    {
        line = default;
        line.ImageFd = -1;
        line.ReadyFd = -1;
        line.CacheMiB = DefaultCacheMiB;
        int i = first;
        for (; i < argc && argv[i] != null && argv[i][0] == '-' && argv[i][1] == '-'; i++)
        {
            var option = NativeText.FromCString(argv[i]);
            if (option.SequenceEqual(EndOfOptions))
            {
                i++;
                break;
            }
            if (option.SequenceEqual(AllowRootOption))
            {
                line.Access = FuseAccess.OwnerAndRoot;
                continue;
            }
            if (option.SequenceEqual(AllowOtherOption))
            {
                line.Access = FuseAccess.Everyone;
                continue;
            }
            if (option.SequenceEqual(ForegroundOption))
            {
                line.Foreground = true;
                continue;
            }
            if (i + 1 >= argc || argv[i + 1] == null)
                return Fail(ref line, FuseServeFault.NeedsValue, i);
            byte* value = argv[++i];
            if (option.SequenceEqual(FsNameOption))
            {
                line.FsName = value;
                continue;
            }
            if (!TryParseNumber(value, out long number))
                return Fail(ref line, FuseServeFault.NotANumber, i - 1);
            if (option.SequenceEqual(ImageFdOption) && number <= int.MaxValue)
                line.ImageFd = (int)number;
            else if (option.SequenceEqual(OffsetOption))
                line.Offset = number;
            else if (option.SequenceEqual(TimeoutOption) && number <= int.MaxValue)
                line.TimeoutSeconds = (int)number;
            else if (option.SequenceEqual(ReadyFdOption) && number <= int.MaxValue)
                line.ReadyFd = (int)number;
            else if (option.SequenceEqual(ThreadsOption) && number is > 0 and <= MaxThreads)
                line.Threads = (int)number;
            else if (option.SequenceEqual(CacheMiBOption) && number is > 0 and <= MaxCacheMiB)
                line.CacheMiB = (int)number;
            else
                return Fail(ref line, FuseServeFault.BadValue, i - 1);
        }
        if (i != argc - 1 || argv[i] == null)
            return Fail(ref line, FuseServeFault.NotOneMountPoint, i);
        if (line.ImageFd < 0)
            return Fail(ref line, FuseServeFault.NoImageFd, i);
        line.MountPoint = argv[i];
        if (line.MountPoint[0] == 0)
            return Fail(ref line, FuseServeFault.EmptyMountPoint, i);
        return true;
    }

    /// <summary>
    /// The command line that <see cref="TryParse"/> reads back as these values: <c>--fuse-serve --image-fd N
    /// [--ready-fd N] --offset N --timeout N [--allow-root | --allow-other] [--fsname NAME] [--threads N]
    /// [--cache-mib N] [--foreground] -- MOUNTPOINT</c>, in <paramref name="argv"/>[0..n) and a null after them; returns n.
    /// An option whose value is the default is left out, but for --offset and --timeout, which the launcher has always
    /// written. Names and numbers go into <paramref name="text"/> (<see cref="TextCapacity"/> bytes); the fsname and the
    /// mount point are pointed to. -1, with nothing to run, for values TryParse would refuse, or when the room is short.
    /// </summary>
    public readonly int Write(byte* text, int textCapacity, byte** argv, int argvCapacity)
    {
        if (ImageFd < 0 || Offset < 0 || TimeoutSeconds < 0 || Threads is < 0 or > MaxThreads || CacheMiB is <= 0 or > MaxCacheMiB
            || Access is not (FuseAccess.Owner or FuseAccess.OwnerAndRoot or FuseAccess.Everyone) || MountPoint == null || MountPoint[0] == 0)
            return -1;
        var w = new ArgvWriter(text, textCapacity, argv, argvCapacity);
        w.Add(Flag);
        w.Add(ImageFdOption, ImageFd);
        if (ReadyFd >= 0)
            w.Add(ReadyFdOption, ReadyFd);
        w.Add(OffsetOption, Offset);
        w.Add(TimeoutOption, TimeoutSeconds);
        if (Access == FuseAccess.OwnerAndRoot)
            w.Add(AllowRootOption);
        else if (Access == FuseAccess.Everyone)
            w.Add(AllowOtherOption);
        if (FsName != null)
        {
            w.Add(FsNameOption);
            w.Point(FsName);
        }
        if (Threads > 0)
            w.Add(ThreadsOption, Threads);
        if (CacheMiB != DefaultCacheMiB)
            w.Add(CacheMiBOption, CacheMiB);
        if (Foreground)
            w.Add(ForegroundOption);
        w.Add(EndOfOptions); // the mount point is then never an option, whatever it begins with
        w.Point(MountPoint);
        return w.Finish();
    }

    /// <summary>Fills argv's pointers and the text they point into, in order; a shortage of room shows in <see cref="Finish"/>.</summary>
    private struct ArgvWriter(byte* text, int textCapacity, byte** argv, int argvCapacity)
    {
        private int _used;
        private int _count;
        private bool _short;

        public void Add(ReadOnlySpan<byte> option)
        {
            if (_used + option.Length + 1 > textCapacity)
            {
                _short = true;
                return;
            }
            byte* start = text + _used;
            for (int i = 0; i < option.Length; i++)
                start[i] = option[i];
            start[option.Length] = 0;
            _used += option.Length + 1;
            Point(start);
        }

        /// <summary>The option, then its value in plain decimal (as TryParseNumber reads it).</summary>
        public void Add(ReadOnlySpan<byte> option, long value)
        {
            Add(option);
            byte* digits = stackalloc byte[20];
            int count = 0;
            do
            {
                digits[count++] = (byte)('0' + (int)(value % 10));
                value /= 10;
            }
            while (value != 0);
            if (_used + count + 1 > textCapacity)
            {
                _short = true;
                return;
            }
            byte* start = text + _used;
            for (int i = 0; i < count; i++)
                start[i] = digits[count - 1 - i];
            start[count] = 0;
            _used += count + 1;
            Point(start);
        }

        public void Point(byte* argument)
        {
            if (_count + 1 >= argvCapacity) // room for the closing null
            {
                _short = true;
                return;
            }
            argv[_count++] = argument;
        }

        public readonly int Finish()
        {
            if (_short)
                return -1;
            argv[_count] = null;
            return _count;
        }
    }

    private static bool Fail(ref FuseServeCommandLine line, FuseServeFault fault, int at)
    {
        line.Fault = fault;
        line.FaultAt = at;
        return false;
    }

    /// <summary>Decimal digits only (as <c>NumberStyles.None</c>), at most <see cref="long.MaxValue"/>.</summary>
    private static bool TryParseNumber(byte* text, out long value)
    {
        value = 0;
        int i = 0;
        for (; text[i] != 0; i++)
        {
            int digit = text[i] - '0';
            if ((uint)digit > 9 || value > (long.MaxValue - digit) / 10)
                return false;
            value = value * 10 + digit;
        }
        return i > 0;
    }
}
