using System.Runtime.InteropServices;
using System.Text;
using Microsoft.Win32.SafeHandles;
using Xar.Posix;
using Xar.SquashFs;
using Xar.SquashFs.Format;

namespace Xar.Runtime.Launching;

/// <summary>
/// The launch algorithm for code on the .NET runtime (xarexec's Main, <c>xar run</c>, <c>xar mount</c>): runs
/// <see cref="LaunchCore"/>, extracts the image when the core asks for it, and turns a failed outcome into one
/// <see cref="XarLaunchException"/> whose message names what went wrong.
/// </summary>
public static unsafe class XarLauncher
{
    /// <summary>
    /// Set by xarexec's pre-runtime entry to "PROGRAM PID" when it waited in vain for a mount, so that the
    /// managed launch in the same process extracts at once instead of waiting again. Never passed on.
    /// </summary>
    public const string MountDidNotAppearVariable = "XAREXEC_MOUNT_DID_NOT_APPEAR";

    /// <summary>
    /// Launches <paramref name="xarPath"/>: in <see cref="LaunchMode.Run"/> the process becomes the program (this
    /// returns only by throwing); otherwise returns the directory (mount, cache entry, or where it would be), bytes
    /// that are not UTF-8 kept as <see cref="LosslessUtf8"/> does.
    /// <paramref name="notice"/> gets the one line said when the image is extracted.
    /// </summary>
    public static string Launch(byte[] xarPath, IReadOnlyList<byte[]> args, LaunchMode mode, Action<string> notice) =>
        Launch(-1, 0, xarPath, args, mode, notice);

    /// <summary>
    /// As <see cref="Launch(byte[], IReadOnlyList{byte[]}, LaunchMode, Action{string})"/>, for the XAR at
    /// <paramref name="archiveOffset"/> of the file open as <paramref name="fd"/> (a self-contained executable's
    /// /proc/self/exe; left open); <paramref name="xarPath"/> is what the program is told the file is.
    /// </summary>
    public static string LaunchOpened(int fd, long archiveOffset, byte[] xarPath, IReadOnlyList<byte[]> args, LaunchMode mode, Action<string> notice)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(fd);
        return Launch(fd, archiveOffset, xarPath, args, mode, notice);
    }

    private static string Launch(int fd, long archiveOffset, byte[] xarPath, IReadOnlyList<byte[]> args, LaunchMode mode, Action<string> notice)
    {
        var skip = TakeMountDidNotAppear(out string? silentServer);
        using var pinned = new PinnedArguments(xarPath, args);
        // The TrustRecord line (NUL-terminated) of the file whose signature this process checked, once it has.
        byte[] verified = new byte[TrustRecord.LineCapacity + 1];
        bool hasVerified = false;
        for (int attempt = 0; ; attempt++)
        {
            LaunchOutcome outcome = default;
            fixed (byte* verifiedLine = verified)
            {
                byte* line = hasVerified ? verifiedLine : null;
                if (fd < 0)
                {
                    LaunchCore.Run(pinned.XarPath, pinned.Args, pinned.Count, LibC.Environ, mode, skip, ref outcome, line);
                }
                else
                {
                    // Each attempt's outcome owns (and closes) a descriptor of its own.
                    int copy = LibC.Fcntl(fd, LibC.F_DUPFD_CLOEXEC, 3);
                    if (copy < 0)
                        throw new XarLaunchException($"cannot read the executable again: {LibC.Describe(LibC.LastError)}");
                    LaunchCore.RunOpened(copy, archiveOffset, pinned.XarPath, pinned.Args, pinned.Count, LibC.Environ, mode, skip, ref outcome, line);
                }
            }
            if (silentServer is not null && outcome.FuseReason == FuseUnavailability.MountDidNotAppear && outcome.Detail[0] == 0)
                CopyAscii(silentServer, outcome.DetailPointer());
            try
            {
                switch (outcome.Status)
                {
                    case LaunchStatus.Mounted:
                    case LaunchStatus.Cached:
                    case LaunchStatus.Located:
                        return DirectoryPath(outcome.DirectoryPointer());
                    case LaunchStatus.NeedsVerification when attempt < 4:
                        CheckSignature(ref outcome, verified);
                        hasVerified = true;
                        continue;
                    case LaunchStatus.NeedsVerification:
                        throw new XarLaunchException("the file changed each time its signature was checked: not run (a trust policy is in force)");
                    case LaunchStatus.NeedsImageCheck when attempt < 4:
                        CheckImage(ref outcome);
                        continue;
                    case LaunchStatus.NeedsExtraction when attempt < 4:
                        if (Extract(ref outcome) is { } entry)
                            notice($"{Reason(ref outcome)}: extracted once into {entry}");
                        skip = outcome.FuseReason;
                        continue;
                    case LaunchStatus.Failed when outcome.Problem == LaunchProblem.None && outcome.FuseReason != FuseUnavailability.None:
                        throw new FuseUnavailableException(Reason(ref outcome));
                    default:
                        throw new XarLaunchException(Describe(ref outcome));
                }
            }
            finally
            {
                if (outcome.XarFd >= 0)
                    LibC.Close(outcome.XarFd);
                if (outcome.CacheRootFd >= 0)
                    LibC.Close(outcome.CacheRootFd);
            }
        }
    }

    /// <summary>The variable the pre-runtime entry may have set for this very process (else ignored); removed either way.</summary>
    private static FuseUnavailability TakeMountDidNotAppear(out string? server)
    {
        server = null;
        string? value = Environment.GetEnvironmentVariable(MountDidNotAppearVariable);
        if (value is null)
            return FuseUnavailability.None;
        LibC.UnsetEnv(MountDidNotAppearVariable);
        string pid = Environment.ProcessId.ToString(System.Globalization.CultureInfo.InvariantCulture);
        foreach (string name in (ReadOnlySpan<string>)["squashfuse_ll", "squashfuse", "xar"])
        {
            if (value == name + " " + pid)
            {
                server = name;
                return FuseUnavailability.MountDidNotAppear;
            }
        }
        return FuseUnavailability.None;
    }

    /// <summary>
    /// Under a trust policy, a file not yet checked: its signature must be good and by a trusted key, over the whole
    /// file read through the outcome's descriptor (<see cref="Signing.XarSignatureCheck"/>), and the file must not
    /// change meanwhile. Writes the file's <see cref="TrustRecord"/> line (NUL-terminated) into <paramref name="line"/>.
    /// </summary>
    private static void CheckSignature(ref LaunchOutcome outcome, byte[] line)
    {
        TrustedKeys keys = default;
        LaunchOutcome policy = default;
        if (!TrustPolicy.Load(new ProcessEnvironment(LibC.Environ), ref keys, ref policy))
            throw new XarLaunchException(Describe(ref policy));
        int dup = LibC.Fcntl(outcome.XarFd, LibC.F_DUPFD_CLOEXEC, 3);
        if (dup < 0)
            throw new XarLaunchException($"cannot read the XAR file again: {LibC.Describe(LibC.LastError)}");
        using var handle = new SafeFileHandle(dup, ownsHandle: true);
        byte* before = stackalloc byte[CacheEntryRecord.LineCapacity];
        byte* after = stackalloc byte[CacheEntryRecord.LineCapacity];
        int beforeLength = CacheEntryRecord.FormatFileLine(dup, before);
        Signing.SignatureVerdict verdict;
        try
        {
            verdict = Signing.XarSignatureCheck.Verify(handle, outcome.ArchiveOffset, keys.ToKeys());
        }
        catch (IOException e)
        {
            throw new XarLaunchException($"cannot check the signature: {e.Message}", e);
        }
        if (!verdict.IsGood)
            throw new XarLaunchException($"{verdict.Message}: not run (a trust policy is in force)");
        int afterLength = CacheEntryRecord.FormatFileLine(dup, after);
        if (beforeLength == 0 || !new ReadOnlySpan<byte>(before, beforeLength).SequenceEqual(new ReadOnlySpan<byte>(after, afterLength)))
            throw new XarLaunchException("the file changed while its signature was checked: not run (a trust policy is in force)");
        fixed (byte* target = line)
        {
            int length = TrustRecord.FormatLine(dup, verdict.Key!.KeyId, target);
            if (length == 0)
                throw new XarLaunchException("cannot tell the file's identity (statx) to record its check");
            target[length] = 0;
        }
    }

    /// <summary>
    /// The cache entry records an image and this file is not listed with it: hash its image; the same, list the file
    /// (the next launch from it goes straight on); another, refuse (the entry holds another program under this UUID).
    /// </summary>
    private static void CheckImage(ref LaunchOutcome outcome)
    {
        string entryPath = Text(outcome.DirectoryPointer());
        string rootFd = "/proc/self/fd/" + outcome.CacheRootFd.ToString(System.Globalization.CultureInfo.InvariantCulture);
        string uuid = Path.GetFileName(entryPath);
        string lockPath = rootFd + "/" + XarCache.LockFilePrefix + uuid;
        int dup = LibC.Fcntl(outcome.XarFd, LibC.F_DUPFD_CLOEXEC, 3);
        if (dup < 0)
            throw new XarLaunchException($"cannot read the XAR file again: {LibC.Describe(LibC.LastError)}");
        string actual;
        using (var handle = new SafeFileHandle(dup, ownsHandle: true))
            actual = ImageHash.Compute(handle, outcome.ImageOffset);
        // Shared, as a launch holds it: the program running from the entry keeps its lock, and gc waits for both.
        using var lockFile = XarLockFile.Acquire(lockPath, exclusive: false);
        string? recorded = lockFile.RecordedImageHash();
        if (recorded is not null && recorded != actual)
            throw new XarLaunchException($"cache entry {entryPath} holds another image with UUID {uuid} (extracted from {lockFile.RecordedXarFile() ?? "another file"}): "
                + "not run; `xar gc` removes it once unused");
        AppendRecord(lockFile.FileDescriptor, FileLine(outcome.XarFd));
    }

    /// <summary>The record line of the file open as <paramref name="fd"/>, without the leading newline.</summary>
    private static string FileLine(int fd)
    {
        byte* line = stackalloc byte[CacheEntryRecord.LineCapacity];
        int length = CacheEntryRecord.FormatFileLine(fd, line);
        return length > 1 ? System.Text.Encoding.ASCII.GetString(line + 1, length - 1) : "";
    }

    /// <summary>Appends to the lock file (one write, so launches appending at once do not mix lines); a record past its bound is not grown.</summary>
    private static void AppendRecord(int lockFd, string lines)
    {
        if (lines.Length == 0 || LibC.FStatx(lockFd, out var st) != 0 || (long)st.Size + lines.Length > CacheEntryRecord.ReadCapacity)
            return;
        int fd = LibC.Open("/proc/self/fd/" + lockFd.ToString(System.Globalization.CultureInfo.InvariantCulture), LibC.O_WRONLY | LibC.O_APPEND | LibC.O_CLOEXEC, 0);
        if (fd < 0)
            return;
        byte[] bytes = System.Text.Encoding.ASCII.GetBytes(lines);
        fixed (byte* b = bytes)
            LibC.Write(fd, b, bytes.Length);
        LibC.Close(fd);
    }

    private static string? Extract(ref LaunchOutcome outcome)
    {
        string root = Text(outcome.DirectoryPointer());
        // Through the open root: what was checked is where we write, whatever happens to the path meanwhile.
        string rootFd = "/proc/self/fd/" + outcome.CacheRootFd.ToString(System.Globalization.CultureInfo.InvariantCulture);
        int dup = LibC.Fcntl(outcome.XarFd, LibC.F_DUPFD_CLOEXEC, 3);
        if (dup < 0)
            throw new XarLaunchException($"cannot read the XAR file again: {LibC.Describe(LibC.LastError)}");
        var handle = new SafeFileHandle(dup, ownsHandle: true);
        long archiveOffset = outcome.ArchiveOffset;
        string uuid = ReadUuid(handle, archiveOffset);
        using var lockFile = XarLockFile.Acquire(rootFd + "/" + XarCache.LockFilePrefix + uuid, exclusive: true);
        string entry = rootFd + "/" + uuid;
        bool extracted = false;
        string? imageHash = null;
        if (LibC.StatxAt(LibC.AT_FDCWD, entry, LibC.AT_SYMLINK_NOFOLLOW, LibC.STATX_BASIC_STATS, out _) != 0)
        {
            XarCache.RemoveLeftovers(rootFd, uuid);
            try
            {
                using var archive = XarArchive.OpenAt(handle, archiveOffset, leaveOpen: true);
                // Hashed before and after: what the entry holds is the image the record names, or the file changed meanwhile.
                imageHash = ImageHash.Compute(handle, archive.Image.ImageOffset);
                SquashFsFile.ExtractToDirectory(archive.Image, entry, new SquashFsExtractOptions { RestoreOwners = false, RestoreXattrs = false });
                if (ImageHash.Compute(handle, archive.Image.ImageOffset) != imageHash)
                    throw new IOException("the XAR file changed while it was extracted");
                // Complete: from now on what the image holds, which the program must not change (as on the read-only mount).
                TreeWriteProtection.Apply(entry);
            }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException or InvalidArchiveException)
            {
                XarCache.RemoveLeftovers(rootFd, uuid);
                TreeRemover.Delete(entry);
                throw new XarLaunchException($"cannot extract into {root}/{uuid}: {e.Message.ReplaceLineEndings(" ")}", e);
            }
            extracted = true;
        }
        handle.Dispose();
        if (extracted)
        {
            LaunchCore.RecordXarFile(lockFile.FileDescriptor, outcome.XarFd);
            AppendRecord(lockFile.FileDescriptor, $"image {imageHash}\n" + FileLine(outcome.XarFd));
        }
        lockFile.Touch();
        return extracted ? root + "/" + uuid : null;
    }

    /// <summary>The UUID of the header the core read (the same descriptor: the same file).</summary>
    private static string ReadUuid(SafeFileHandle handle, long archiveOffset) => XarHeaderReader.Read(handle, archiveOffset).Uuid;

    /// <summary>For messages: UTF-8, with <c>\xNN</c> for bytes that are not (<see cref="LosslessUtf8.Escape"/>).</summary>
    private static string Text(ReadOnlySpan<byte> buffer)
    {
        int end = buffer.IndexOf((byte)0);
        return LosslessUtf8.Escape(end < 0 ? buffer : buffer[..end]);
    }

    private static string Text(byte* buffer) => Text(new ReadOnlySpan<byte>(buffer, LaunchOutcome.PathCapacity));

    /// <summary>The directory the core answered, every byte kept (<see cref="LosslessUtf8"/>): it is used as a path again.</summary>
    private static string DirectoryPath(byte* buffer)
    {
        var bytes = new ReadOnlySpan<byte>(buffer, LaunchOutcome.PathCapacity);
        int end = bytes.IndexOf((byte)0);
        return LosslessUtf8.Decode(end < 0 ? bytes : bytes[..end]);
    }

    /// <summary>Why FUSE did not serve, as the phrase the extraction notice starts with.</summary>
    public static string Reason(ref LaunchOutcome o)
    {
        string detail = Text(o.DetailPointer());
        return o.FuseReason switch
        {
            FuseUnavailability.Forced => "XAR_EXTRACT=1",
            FuseUnavailability.NoDevFuse => "no /dev/fuse",
            FuseUnavailability.NoMountRoot => "no mount root: neither /mnt/xarfuse nor /dev/shm is a directory with mode 1777 (try: mkdir -m 1777 /mnt/xarfuse)",
            FuseUnavailability.NoHelper => "neither squashfuse_ll nor squashfuse is on PATH",
            FuseUnavailability.HelperFailed => HelperFailure(ref o, detail),
            FuseUnavailability.MountDidNotAppear when detail == "xar" => $"the FUSE server did not answer within {SquashFuse.MountWaitSeconds} s",
            FuseUnavailability.MountDidNotAppear => $"the {(detail.Length > 0 ? detail : "squashfuse_ll")} mount did not appear within {SquashFuse.MountWaitSeconds} s",
            FuseUnavailability.ServerFailed => ServerFailure(ref o, detail),
            FuseUnavailability.UserDirectoryUnusable => "cannot mount: " + Describe(ref o),
            _ => "FUSE cannot serve",
        };
    }

    private static void CopyAscii(string text, byte* target)
    {
        int n = Math.Min(text.Length, LaunchOutcome.PathCapacity - 1);
        for (int i = 0; i < n; i++)
            target[i] = (byte)text[i];
        target[n] = 0;
    }

    private static string ServerFailure(ref LaunchOutcome o, string detail)
    {
        if (o.HelperStatus == int.MinValue)
            return $"cannot start the FUSE server: {LibC.Describe(o.Errno)}";
        if (detail.Length > 0)
            return "the FUSE server cannot mount: " + detail;
        return o.HelperStatus < 0 ? $"the FUSE server was killed by signal {-o.HelperStatus}"
            : $"the FUSE server exited with status {o.HelperStatus} before it was ready";
    }

    private static string HelperFailure(ref LaunchOutcome o, string detail)
    {
        int newline = detail.IndexOf('\n');
        string program = newline < 0 ? detail : detail[..newline];
        string output = newline < 0 ? "" : detail[(newline + 1)..];
        if (o.HelperStatus == int.MinValue)
            return $"cannot run {program}: {LibC.Describe(o.Errno)}";
        string what = o.HelperStatus < 0 ? $"{program} was killed by signal {-o.HelperStatus}" : $"{program} exited with status {o.HelperStatus}";
        string firstLine = output.Trim().Split('\n')[0].Trim();
        return firstLine.Length == 0 ? what : $"{what}: {firstLine}";
    }

    /// <summary>The message for a failed outcome (without the "xarexec: FILE: " prefix).</summary>
    public static string Describe(ref LaunchOutcome o)
    {
        string path = Text(o.SubjectPointer());
        string detail = Text(o.DetailPointer());
        string errno = LibC.Describe(o.Errno);
        string mode(uint m) => Convert.ToString(m & 0xFFF, 8).PadLeft(4, '0');
        uint euid = LibC.GetEuid();
        string place = o.Subject switch
        {
            LaunchSubject.MountRoot => "mount root " + path,
            LaunchSubject.CacheRoot => "cache directory " + path,
            LaunchSubject.CacheEntry => "cache entry " + path,
            _ => path,
        };
        switch (o.Subject, o.Problem)
        {
            case (LaunchSubject.Signature, LaunchProblem.NotSigned):
                return $"not signed: not run (a trust policy is in force: the keys in {TrustPolicy.SystemDirectory} and ~/{TrustPolicy.UserDirectory})";
            case (LaunchSubject.Signature, LaunchProblem.UntrustedSigner):
                return $"signed with key {detail}, which is not a trusted key: not run (a trust policy is in force)";
            case (LaunchSubject.Signature, _):
                return "XAR_SIGNATURE is malformed: not run (a trust policy is in force)";
            case (LaunchSubject.TrustedKey, LaunchProblem.Malformed):
                return $"trusted key {path} is not a minisign public key: nothing runs until it is fixed";
            case (LaunchSubject.TrustedKey, LaunchProblem.TooMany):
                return $"more than {TrustedKeys.Capacity} trusted keys ({path}): nothing runs until there are fewer";
            case (LaunchSubject.TrustedKey, LaunchProblem.WrongOwner):
                return $"trusted key {path} is owned by uid {o.ObservedUid}{(path.StartsWith(TrustPolicy.SystemDirectory, StringComparison.Ordinal) ? ", not root" : $", neither root nor uid {euid}")}: the trust policy cannot be read safely, nothing runs";
            case (LaunchSubject.TrustedKey, LaunchProblem.WritableByOthers):
                return $"trusted key {path} is writable by others (mode {mode(o.ObservedMode)}): the trust policy cannot be read safely, nothing runs";
            case (LaunchSubject.TrustedKey, LaunchProblem.NotARegularFile):
                return $"trusted key {path} is not a regular file: nothing runs until it is fixed";
            case (LaunchSubject.TrustedKey, _):
                return $"cannot read {path} (trusted keys): {errno}: nothing runs until it can be read";
            case (LaunchSubject.CacheEntry, LaunchProblem.NoImageRecord):
                return $"cache entry {path} was made by an earlier xar and records no image: not run under a trust policy; `xar gc` removes it once unused";
            case (LaunchSubject.XarFile, LaunchProblem.CutShort):
                return $"is cut short: {ImageShortfall(o.XarFd, o.ImageOffset)} (a broken download or copy?); nothing run";
            case (LaunchSubject.XarFile, LaunchProblem.CannotOpen):
                return $"cannot open: {errno}";
            case (LaunchSubject.XarFile, LaunchProblem.CannotRead):
                return o.Errno == LibC.EISDIR ? "is a directory, not a XAR file"
                    : o.Errno == LibC.ESPIPE ? "is not a regular file (a FIFO, socket or terminal holds no XAR)" : $"cannot read: {errno}";
            case (LaunchSubject.Header, _):
                return o.ArchiveOffset > 0
                    ? $"no intact XAR after the executable's ELF runtime (at byte {o.ArchiveOffset}): {HeaderMessage(o.XarFd, o.ArchiveOffset)}"
                    : HeaderMessage(o.XarFd, o.ArchiveOffset);
            case (LaunchSubject.Target, LaunchProblem.NoTarget):
                return "no XAREXEC_TARGET in the header: nothing to run (xarexec -m only mounts it)";
            case (LaunchSubject.Target, LaunchProblem.TargetNotRelative):
                return $"XAREXEC_TARGET \"{detail}\" must be a relative path inside the image, without \"..\"";
            case (LaunchSubject.Target, LaunchProblem.TargetNotInImage):
                return $"XAREXEC_TARGET {detail} is not in the image";
            case (LaunchSubject.Target, LaunchProblem.NotARegularFile):
                return $"XAREXEC_TARGET {detail} is a directory, not a program";
            case (LaunchSubject.Target, _):
                return $"cannot open {path}: {errno}";
            case (LaunchSubject.FuseServer, _):
                return $"XAR_FUSE=\"{detail}\" is not one of: xar (the built-in server, the default), squashfuse";
            case (LaunchSubject.MountTimeout, _):
                return $"XAR_MOUNT_TIMEOUT=\"{detail.Trim()}\" is not a number of seconds";
            case (LaunchSubject.MountRoot, LaunchProblem.Missing) when o.FuseReason == FuseUnavailability.NoMountRoot:
                return "no mount root: neither /mnt/xarfuse nor /dev/shm is a directory with mode 1777 (try: mkdir -m 1777 /mnt/xarfuse)";
            case (LaunchSubject.MountRoot, LaunchProblem.WrongMode):
                return $"mount root {path} has mode {Convert.ToString(o.ObservedMode & 0xFFF, 8)}, expected 1777";
            case (LaunchSubject.MountRoot, LaunchProblem.WrongOwner):
                return $"mount root {path} is owned by uid {o.ObservedUid}, neither root nor us";
            case (LaunchSubject.CacheRoot, LaunchProblem.WrongOwner):
                return $"cache directory {path} is owned by uid {o.ObservedUid}, not by uid {euid}";
            case (LaunchSubject.CacheRoot, LaunchProblem.WritableByOthers):
                return $"cache directory {path} is writable by others (mode {Convert.ToString(o.ObservedMode & 0xFFF, 8)})";
            case (LaunchSubject.CacheRoot, LaunchProblem.NotWritable):
                return $"cache directory {path} is not writable: {errno}";
            case (LaunchSubject.CacheRoot, LaunchProblem.NoneUsable):
                return $"no cache directory where programs may run: {detail}";
            case (LaunchSubject.CacheEntry, LaunchProblem.WrongOwner):
                return $"cache entry {path} is not a directory of ours";
            case (LaunchSubject.LockFile, LaunchProblem.CannotOpen):
                return $"cannot open lock file {path}: {errno}";
            case (LaunchSubject.LockFile, LaunchProblem.CannotLock):
                return $"cannot lock {path}: {errno}";
            case (LaunchSubject.MountDirectory, LaunchProblem.CannotUnmount):
                return $"cannot unmount the broken mount at {path}";
            case (LaunchSubject.MountDirectory, LaunchProblem.BrokenMountRemains):
                return $"the broken mount at {path} is still there after unmounting it";
            case (LaunchSubject.Program, LaunchProblem.CannotExec):
                return $"cannot run {path}: {errno}";
            case (_, LaunchProblem.MountedOver):
                return $"{place} is a mount point, not the directory xar made (another user may have mounted a FUSE file system there first): not used";
            case (_, LaunchProblem.ForeignMount) when detail == path:
                return $"{place} is a FUSE mount, whose owner and modes are what its server says (perhaps another user's): not trusted";
            case (_, LaunchProblem.ForeignMount):
                return $"{place}: {detail} is a FUSE mount, whose owner and modes are what its server says (perhaps another user's): not trusted";
            case (_, LaunchProblem.UntrustedParent):
                return $"{place}: {detail} can be changed by another user (uid {o.ObservedUid}, mode {mode(o.ObservedMode)})";
            case (_, LaunchProblem.Missing):
                return $"{place} does not exist";
            case (_, LaunchProblem.NotADirectory):
                return $"{path} should be a directory{((o.ObservedMode & LibC.S_IFMT) == LibC.S_IFLNK ? ", not a symbolic link" : "")}";
            case (_, LaunchProblem.NotARegularFile):
                return $"{path} should be a regular file{((o.ObservedMode & LibC.S_IFMT) == LibC.S_IFLNK ? ", not a symbolic link" : "")}";
            case (_, LaunchProblem.WrongOwner):
                return $"{path} is owned by uid {o.ObservedUid}, not by uid {euid}";
            case (_, LaunchProblem.WrongGroup):
                return $"{path} belongs to group {o.ObservedGid}, which is not one of ours";
            case (_, LaunchProblem.WrongMode):
                return $"{path} has mode {mode(o.ObservedMode)}, expected {mode(o.ExpectedMode)}";
            case (_, LaunchProblem.CannotCreate):
                return $"cannot create directory {path}: {errno}";
            case (_, LaunchProblem.TooLong):
                return $"{place}: path too long";
            default:
                return $"{place}: {ProblemWords(o.Problem)}{(o.Errno != 0 ? ": " + errno : "")}";
        }
    }

    /// <summary>A problem in words, for the subjects the cases above do not name: never an enum name.</summary>
    private static string ProblemWords(LaunchProblem problem) => problem switch
    {
        LaunchProblem.CannotOpen => "cannot open",
        LaunchProblem.CannotRead => "cannot read",
        LaunchProblem.CannotCreate => "cannot create",
        LaunchProblem.CannotSetMode => "cannot set its mode",
        LaunchProblem.CannotLock => "cannot lock",
        LaunchProblem.CannotStat => "cannot stat",
        LaunchProblem.CannotUnmount => "cannot unmount",
        LaunchProblem.CannotExec => "cannot run",
        LaunchProblem.CannotKeepOpen => "cannot keep a descriptor open",
        LaunchProblem.WritableByOthers => "is writable by others",
        LaunchProblem.NotWritable => "is not writable",
        LaunchProblem.BrokenMountRemains => "a broken mount remains",
        LaunchProblem.InvalidHeader => "invalid header",
        LaunchProblem.NotANumber => "not a number",
        LaunchProblem.UnknownValue => "unknown value",
        LaunchProblem.NoneUsable => "none usable",
        LaunchProblem.Malformed => "malformed",
        LaunchProblem.TooMany => "too many",
        _ => "cannot be used",
    };

    /// <summary>The header rule broken, in words: the header re-read through the same descriptor and parsed.</summary>
    private static string HeaderMessage(int xarFd, long archiveOffset)
    {
        using var handle = new SafeFileHandle(xarFd, ownsHandle: false);
        try
        {
            XarHeaderReader.Read(handle, archiveOffset);
            return "the header changed while it was read";
        }
        catch (XarHeaderException e)
        {
            return e.Message;
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException or NotSupportedException)
        {
            return $"cannot read the header: {e.Message}";
        }
    }

    /// <summary>How much of the image a cut-short file lacks, in words: the superblock and size re-read through the same descriptor.</summary>
    private static string ImageShortfall(int xarFd, long imageOffset)
    {
        using var handle = new SafeFileHandle(xarFd, ownsHandle: false);
        try
        {
            var superblock = new byte[48];
            RandomAccess.Read(handle, superblock, imageOffset);
            ulong bytesUsed = System.Buffers.Binary.BinaryPrimitives.ReadUInt64LittleEndian(superblock.AsSpan(40));
            long size = RandomAccess.GetLength(handle);
            return $"its image needs {bytesUsed} bytes from byte {imageOffset}, and the file ends at byte {size}";
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException or NotSupportedException)
        {
            return "the file ends before its image does";
        }
    }

    /// <summary>The path and arguments as NUL-terminated bytes in pinned memory, and the argv array over them.</summary>
    private sealed class PinnedArguments : IDisposable
    {
        private readonly nint _block;

        public PinnedArguments(byte[] xarPath, IReadOnlyList<byte[]> args)
        {
            int total = xarPath.Length + 1;
            foreach (var a in args)
                total += a.Length + 1;
            int pointers = (args.Count + 1) * sizeof(nint);
            _block = (nint)NativeMemory.Alloc((nuint)(pointers + total));
            byte** argv = (byte**)_block;
            byte* text = (byte*)_block + pointers;
            XarPath = Put(ref text, xarPath);
            for (int i = 0; i < args.Count; i++)
                argv[i] = Put(ref text, args[i]);
            argv[args.Count] = null;
            Args = argv;
            Count = args.Count;
        }

        public byte* XarPath { get; }
        public byte** Args { get; }
        public int Count { get; }

        private static byte* Put(ref byte* text, byte[] value)
        {
            byte* start = text;
            value.CopyTo(new Span<byte>(text, value.Length));
            text[value.Length] = 0;
            text += value.Length + 1;
            return start;
        }

        public void Dispose() => NativeMemory.Free((void*)_block);
    }
}
