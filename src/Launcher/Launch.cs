using System.Text;
using Xar.Posix;
using Xar.SquashFs;
using Xar.SquashFs.Format;
using Xar.Runtime;
using static Xar.Posix.LibC;

namespace Xar.Launcher;

/// <summary>One run of the launcher: parse the command line and header, mount or extract, exec.</summary>
internal sealed unsafe class Launch
{
    public const int LauncherFailure = 127;
    private const string Usage =
        "usage: xarexec [-m | -n | -h] XARFILE [ARGS...]\n" +
        "Runs a XAR file: mounts its image with squashfuse (or extracts it once into a cache where FUSE\n" +
        "cannot serve) and execs /bin/sh -e MOUNT/XAREXEC_TARGET XARFILE ARGS...\n" +
        "  -m  mount (or extract) and print the directory; run nothing\n" +
        "  -n  print the mount directory; mount nothing\n" +
        "  -h  this help\n" +
        "Environment: XAR_MOUNT_ROOT, XAR_MOUNT_SEED, XAR_MOUNT_TIMEOUT (seconds, default 870),\n" +
        "XAR_EXTRACT=1 (always extract), XAR_CACHE_DIR (default ${XDG_CACHE_HOME:-~/.cache}/xar).\n";

    private readonly string[] _args;
    private int _xarIndex;
    private string? _xarPath;
    private uint _savedUmask;

    public Launch(string[] args) => _args = args;

    public int Run()
    {
        _savedUmask = Umask(0x12); // 022 for the directories and files we create; restored before exec
        string? mountDidNotAppear = FastStartMountDidNotAppear();
        bool mountOnly = false, printOnly = false;
        int i = 0;
        for (; i < _args.Length && _args[i].Length > 1 && _args[i][0] == '-'; i++)
        {
            switch (_args[i])
            {
                case "-m":
                    mountOnly = true;
                    continue;
                case "-n":
                    printOnly = true;
                    continue;
                case "-h":
                case "--help":
                    WriteAll(1, Usage);
                    return 0;
                case "--":
                    i++;
                    break;
                default:
                    WriteAll(2, $"xarexec: unknown option {_args[i]}\n{Usage}");
                    return LauncherFailure;
            }
            break;
        }
        if (i >= _args.Length)
        {
            WriteAll(2, Usage);
            return LauncherFailure;
        }
        _xarPath = _args[i];
        _xarIndex = i;
        try
        {
            var header = ReadHeader(_xarPath);
            string? target = header.ExecTarget;
            if (!mountOnly && !printOnly)
                CheckTarget(target);
            bool forceExtract = Environment.GetEnvironmentVariable("XAR_EXTRACT") == "1";
            if (printOnly)
            {
                WriteAll(1, (forceExtract ? XarCache.Roots()[0].Path + "/" + header.Uuid : XarMountLayout.Locate(header).MountPath) + "\n");
                return 0;
            }
            string reason = "XAR_EXTRACT=1";
            if (!forceExtract)
            {
                try
                {
                    if (!File.Exists("/dev/fuse"))
                        throw new FuseUnavailableException("no /dev/fuse");
                    if (mountDidNotAppear is not null)
                        throw new FuseUnavailableException(FuseMount.MountDidNotAppear(mountDidNotAppear));
                    return RunMounted(header, mountOnly, target);
                }
                catch (FuseUnavailableException e)
                {
                    reason = e.Reason;
                }
            }
            return RunExtracted(header, mountOnly, target, reason);
        }
        catch (XarHeaderException e)
        {
            return Fail(e.Message);
        }
        catch (XarLaunchException e)
        {
            return Fail(e.Message);
        }
        catch (InvalidArchiveException e)
        {
            return Fail(e.Message);
        }
        catch (IOException e)
        {
            return Fail(e.Message);
        }
        catch (UnauthorizedAccessException e)
        {
            return Fail(e.Message);
        }
        catch (Exception e)
        {
            // A bug of ours still ends in one line and 127, never in a stack trace.
            return Fail($"internal error: {e.GetType().Name}: {e.Message}");
        }
    }

    /// <summary>
    /// The squashfuse program whose mount the fast start waited for in vain in this process (then
    /// Main extracts at once rather than wait again), or null. The variable is removed either way:
    /// it is the launcher's own, and the program never sees it.
    /// </summary>
    private static string? FastStartMountDidNotAppear()
    {
        string? value = Environment.GetEnvironmentVariable(FuseMount.MountDidNotAppearVariable);
        if (value is null)
            return null;
        UnsetEnv(FuseMount.MountDidNotAppearVariable);
        string pid = Environment.ProcessId.ToString(System.Globalization.CultureInfo.InvariantCulture);
        foreach (string program in (ReadOnlySpan<string>)[FuseMount.LowLevelProgram, FuseMount.HighLevelProgram])
            if (value == program + " " + pid)
                return program;
        return null;
    }

    private int RunMounted(XarHeader header, bool mountOnly, string? target)
    {
        var location = XarMountLayout.Locate(header);
        for (int attempt = 0; ; attempt++)
        {
            using var session = XarMounter.MountOrReuse(_xarPath!, header, location);
            if (mountOnly)
            {
                WriteAll(1, session.MountPath + "\n");
                return 0;
            }
            string entry = session.MountPath + "/" + target;
            // Held open (and inherited across exec) so the mount cannot time out or be collected between
            // exec and the shell opening the script, and while the program it starts opens its own files.
            int fd = Open(entry, O_RDONLY | O_NOCTTY, 0);
            if (fd < 0)
            {
                int errno = LastError;
                // squashfuse's idle timeout may have ended a reused mount just after we saw it: mount again.
                if (!session.IsNewMount && attempt == 0 && FuseMount.Probe(session.MountPath) != FuseMountState.Mounted)
                    continue;
                session.UnmountIfNew();
                return errno is ENOENT or ENOTDIR
                    ? Fail($"XAREXEC_TARGET {target} is not in the image")
                    : Fail($"cannot open {entry}: {Describe(errno)}");
            }
            fd = PosixPath.MoveAboveStandardDescriptors(fd, entry);
            if (session.IsNewMount)
                SetEnv("XARFUSE_NEW_MOUNT", "1", 1);
            else
                UnsetEnv("XARFUSE_NEW_MOUNT");
            int result = Exec(entry);
            Close(fd);
            session.UnmountIfNew();
            return result;
        }
    }

    /// <summary>
    /// Where FUSE cannot serve: the cache entry (extracted now if missing, once, with one line on
    /// stderr saying why), its lock held shared by the program for as long as it runs.
    /// </summary>
    private int RunExtracted(XarHeader header, bool mountOnly, string? target, string reason)
    {
        using var entry = XarCache.TryOpenExisting(header)
            ?? XarCache.OpenOrExtract(_xarPath!, header, ExtractImage);
        if (entry.Extracted)
            WriteAll(2, $"xarexec: {_xarPath}: {reason}: extracted once into {entry.Path}\n");
        if (mountOnly)
        {
            WriteAll(1, entry.Path + "\n");
            return 0;
        }
        string script = entry.Path + "/" + target;
        var st = PosixPath.TryStat(script);
        if (st is null)
            return Fail($"XAREXEC_TARGET {target} is not in the image");
        entry.Lock.InheritAcrossExec();
        UnsetEnv("XARFUSE_NEW_MOUNT");
        return Exec(script);
    }

    /// <summary>The whole image, all or nothing, into a directory that must not exist. Owners and
    /// xattrs are not restored: the cache belongs to the user running it.</summary>
    private static void ExtractImage(string xarPath, string destination)
    {
        using var archive = XarArchive.Open(xarPath);
        SquashFsFile.ExtractToDirectory(archive.Image, destination, new SquashFsExtractOptions { RestoreOwners = false, RestoreXattrs = false });
    }

    /// <summary>
    /// Replaces this process with <c>/bin/sh -e ENTRY XARPATH ARGS...</c>, the XAR path and arguments
    /// byte for byte as given; returns only on failure.
    /// </summary>
    private int Exec(string entry)
    {
        Umask(_savedUmask);
        var error = ProcessImage.Exec("/bin/sh", [.. RawArguments.Utf8("/bin/sh", "-e", entry), .. RawArguments.Of(_args)[_xarIndex..]]);
        Umask(0x12);
        return Fail(error.Message);
    }

    /// <summary>Reads the first bytes of the file and parses them by Facebook's header rules.</summary>
    private static XarHeader ReadHeader(string path)
    {
        int fd = Open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY, 0);
        if (fd < 0)
            throw new XarLaunchException($"cannot open: {Describe(LastError)}");
        try
        {
            byte* buffer = stackalloc byte[XarHeader.BytesNeeded];
            int total = 0;
            while (total < XarHeader.BytesNeeded)
            {
                nint n = Read(fd, buffer + total, XarHeader.BytesNeeded - total);
                if (n < 0)
                {
                    int errno = LastError;
                    if (errno == EINTR)
                        continue;
                    throw new XarLaunchException(errno == EISDIR ? "is a directory, not a XAR file" : $"cannot read: {Describe(errno)}");
                }
                if (n == 0)
                    break;
                total += (int)n;
            }
            return XarHeader.Parse(new ReadOnlySpan<byte>(buffer, total));
        }
        finally
        {
            Close(fd);
        }
    }

    /// <summary>XAREXEC_TARGET must name a path inside the image: relative, no "..", not empty.</summary>
    private static void CheckTarget(string? target)
    {
        if (string.IsNullOrEmpty(target))
            throw new XarLaunchException("no XAREXEC_TARGET in the header: nothing to run (xarexec -m only mounts it)");
        if (target[0] == '/' || target.Split('/').Contains(".."))
            throw new XarLaunchException($"XAREXEC_TARGET \"{target}\" must be a relative path inside the image, without \"..\"");
    }

    private int Fail(string message)
    {
        message = message.ReplaceLineEndings(" ").Trim();
        WriteAll(2, _xarPath is null ? $"xarexec: {message}\n" : $"xarexec: {_xarPath}: {message}\n");
        return LauncherFailure;
    }

    private static void WriteAll(int fd, string text)
    {
        byte[] bytes = Encoding.UTF8.GetBytes(text);
        fixed (byte* p = bytes)
        {
            int done = 0;
            while (done < bytes.Length)
            {
                nint n = Write(fd, p + done, bytes.Length - done);
                if (n < 0 && LastError == EINTR)
                    continue;
                if (n <= 0)
                    return;
                done += (int)n;
            }
        }
    }
}
