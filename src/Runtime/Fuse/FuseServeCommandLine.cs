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
/// The arguments after <c>--fuse-serve</c> (<see cref="FuseDaemon"/>'s synopsis), read from argv's bytes without
/// allocating: the one reading of that command line, for the steps before the runtime (detaching, the early
/// fusermount) and for Main, which turns it into <see cref="FuseDaemon.Arguments"/>. Values point into argv.
/// </summary>
internal unsafe struct FuseServeCommandLine
{
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
        line.CacheMiB = 16;
        int i = first;
        for (; i < argc && argv[i] != null && argv[i][0] == '-' && argv[i][1] == '-'; i++)
        {
            var option = NativeText.FromCString(argv[i]);
            if (option.Length == 2)
            {
                i++;
                break;
            }
            if (option.SequenceEqual("--allow-root"u8))
            {
                line.Access = FuseAccess.OwnerAndRoot;
                continue;
            }
            if (option.SequenceEqual("--allow-other"u8))
            {
                line.Access = FuseAccess.Everyone;
                continue;
            }
            if (option.SequenceEqual("--foreground"u8))
            {
                line.Foreground = true;
                continue;
            }
            if (i + 1 >= argc || argv[i + 1] == null)
                return Fail(ref line, FuseServeFault.NeedsValue, i);
            byte* value = argv[++i];
            if (option.SequenceEqual("--fsname"u8))
            {
                line.FsName = value;
                continue;
            }
            if (!TryParseNumber(value, out long number))
                return Fail(ref line, FuseServeFault.NotANumber, i - 1);
            if (option.SequenceEqual("--image-fd"u8) && number <= int.MaxValue)
                line.ImageFd = (int)number;
            else if (option.SequenceEqual("--offset"u8))
                line.Offset = number;
            else if (option.SequenceEqual("--timeout"u8) && number <= int.MaxValue)
                line.TimeoutSeconds = (int)number;
            else if (option.SequenceEqual("--ready-fd"u8) && number <= int.MaxValue)
                line.ReadyFd = (int)number;
            else if (option.SequenceEqual("--threads"u8) && number is > 0 and <= 1024)
                line.Threads = (int)number;
            else if (option.SequenceEqual("--cache-mib"u8) && number is > 0 and <= 65536)
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
