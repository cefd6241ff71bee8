using Xar.Posix;
using static Xar.Posix.RawLibC;

namespace Xar.Runtime.Launching;

/// <summary>
/// The launcher's one implementation of the launch algorithm (docs/ARCHITECTURE.md, "Launching"): read the
/// header through one descriptor, check the target, mount the image or find its cache entry, and exec the
/// program. It allocates nothing, throws nothing and calls libc through <see cref="RawLibC"/>, so xarexec runs
/// it from its DT_INIT entry before the .NET runtime starts (most launches end there); <c>Main</c>,
/// <c>xar run</c> and <c>xar mount</c> call the same code and turn its <see cref="LaunchOutcome"/> into
/// messages, or extract the image when the outcome asks for it. Runs on one thread.
/// </summary>
public static unsafe partial class LaunchCore
{
    public const uint UserDirectoryMode = 0x1ED, MountDirectoryMode = 0x1ED, LockFileMode = 0x180, PrivateDirectoryMode = 0x1C0, MountRootMode = 0x3FF;
    /// <summary>The umask for what the launcher creates (022); the caller's is restored before exec.</summary>
    private const uint CreationUmask = 0x12;

    /// <summary>
    /// One launch of <paramref name="xarPath"/>. In <see cref="LaunchMode.Run"/> a successful launch never returns:
    /// the process becomes <c>/bin/sh -e TARGET XARPATH ARGS...</c>. <paramref name="skipFuse"/> (from an earlier
    /// attempt in this process) goes straight to the cache with that reason. The outcome's <see cref="LaunchOutcome.XarFd"/>
    /// is left open for the caller when set.
    /// </summary>
    /// <remarks>
    /// <paramref name="verified"/>: the <see cref="TrustRecord"/> line of a file whose signature this process has just
    /// checked (after <see cref="LaunchStatus.NeedsVerification"/>); honoured only when it names the file opened now.
    /// </remarks>
    public static void Run(byte* xarPath, byte** args, int argCount, byte** envp, LaunchMode mode, FuseUnavailability skipFuse, ref LaunchOutcome outcome,
        byte* verified = null)
    {
        outcome.Reset();
        int fd;
        // O_NONBLOCK: a FIFO given as the file must not block open(2) until a writer comes; its pread then fails
        // (ESPIPE: not a regular file). Reads of a regular file ignore the flag.
        do
            fd = Open(xarPath, LibC.O_RDONLY | LibC.O_CLOEXEC | LibC.O_NOCTTY | LibC.O_NONBLOCK, 0);
        while (fd < 0 && Errno == LibC.EINTR);
        if (fd < 0)
        {
            LaunchFailure.Set(ref outcome, LaunchSubject.XarFile, LaunchProblem.CannotOpen, Errno, xarPath);
            return;
        }
        outcome.XarFd = fd;
        RunFrom(archiveOffset: -1, xarPath, args, argCount, envp, mode, skipFuse, verified, ref outcome);
    }

    /// <summary>
    /// As <see cref="Run"/>, for the XAR that starts at <paramref name="archiveOffset"/> of the file already open
    /// as <paramref name="fd"/> (a self-contained executable: its /proc/self/exe, the XAR after its ELF runtime).
    /// The header is read there and its OFFSET counts from there; <paramref name="xarPath"/> is what the program
    /// is told the file is. The outcome owns <paramref name="fd"/> (<see cref="LaunchOutcome.XarFd"/>).
    /// </summary>
    public static void RunOpened(int fd, long archiveOffset, byte* xarPath, byte** args, int argCount, byte** envp, LaunchMode mode, FuseUnavailability skipFuse, ref LaunchOutcome outcome,
        byte* verified = null)
    {
        outcome.Reset();
        outcome.XarFd = fd;
        RunFrom(archiveOffset, xarPath, args, argCount, envp, mode, skipFuse, verified, ref outcome);
    }

    /// <summary>The launch from the header on; <paramref name="archiveOffset"/> -1: at 0, or after the ELF runtime of a self-contained file.</summary>
    private static void RunFrom(long archiveOffset, byte* xarPath, byte** args, int argCount, byte** envp, LaunchMode mode, FuseUnavailability skipFuse, byte* verified, ref LaunchOutcome outcome)
    {
        var env = new ProcessEnvironment(envp);
        int fd = outcome.XarFd;
        byte* data = stackalloc byte[XarHeaderScan.BytesNeeded];
        int length = ReadHead(fd, data, archiveOffset < 0 ? 0 : archiveOffset, xarPath, ref outcome);
        if (length < 0)
            return;
        if (archiveOffset < 0)
        {
            archiveOffset = 0;
            // A self-contained executable run as a XAR (xarexec FILE, xar run FILE): its XAR follows the ELF runtime.
            long elfEnd = ElfExtent.End(new ReadOnlySpan<byte>(data, length));
            if (elfEnd >= 0)
            {
                archiveOffset = ElfExtent.XarStart(elfEnd);
                length = ReadHead(fd, data, archiveOffset, xarPath, ref outcome);
                if (length < 0)
                    return;
            }
        }
        outcome.ArchiveOffset = archiveOffset;
        var header = XarHeaderScan.Scan(new ReadOnlySpan<byte>(data, length));
        if (!header.IsValid)
        {
            LaunchFailure.Set(ref outcome, LaunchSubject.Header, LaunchProblem.InvalidHeader, 0, xarPath);
            outcome.HeaderFault = header.Fault;
            return;
        }
        long imageOffset = archiveOffset + header.Offset;
        outcome.ImageOffset = imageOffset;
        if (!ImageIsWhole(fd, data, length, header.Offset, imageOffset, xarPath, ref outcome))
            return;
        var target = new NativeText(header.ExecTarget);
        if (mode == LaunchMode.Run && !CheckTarget(target, ref outcome))
            return;
        if (!env.TryMountTimeoutSeconds(out long timeout))
        {
            LaunchFailure.Set(ref outcome, LaunchSubject.MountTimeout, LaunchProblem.NotANumber, 0, null);
            LaunchFailure.Copy(env.Get("XAR_MOUNT_TIMEOUT"u8), outcome.DetailPointer());
            return;
        }
        var fuseChoice = env.Get("XAR_FUSE"u8);
        bool squashFuse = fuseChoice.SequenceEqual("squashfuse"u8);
        if (!fuseChoice.IsNull && !fuseChoice.IsEmpty && !squashFuse && !fuseChoice.SequenceEqual("xar"u8))
        {
            LaunchFailure.Set(ref outcome, LaunchSubject.FuseServer, LaunchProblem.UnknownValue, 0, null);
            LaunchFailure.Copy(fuseChoice, outcome.DetailPointer());
            return;
        }
        var uuid = new NativeText(header.Uuid);
        bool forced = env.Is("XAR_EXTRACT"u8, "1"u8);
        if (mode == LaunchMode.Locate)
        {
            if (forced)
                LocateCacheEntry(env, uuid, ref outcome);
            else
                LocateMount(env, header, ref outcome);
            return;
        }

        // Step 8, before anything is mounted or extracted: under a trust policy, only a file signed by a trusted key.
        byte* trustLine = stackalloc byte[TrustRecord.LineCapacity];
        if (!CheckTrust(env, header, fd, trustLine, verified, out int trustLength, out bool verifiedNow, ref outcome))
            return;
        var launch = new Launch(xarPath, args, argCount, env, target, imageOffset, timeout, mode)
        {
            // Absent fields are default spans (IsNull); a present empty one points into the header buffer.
            Exec = new NativeText(header.Exec),
            ExecArgs = new NativeText(header.ExecArgs),
            SquashFuse = squashFuse,
            TrustLine = trustLine,
            TrustLength = trustLength,
            VerifiedNow = verifiedNow,
        };
        var reason = forced ? FuseUnavailability.Forced : skipFuse;
        if (reason == FuseUnavailability.None)
        {
            reason = RunMounted(ref launch, header, ref outcome);
            if (reason == FuseUnavailability.None)
                return; // mounted (Mount mode) or failed; Run mode exec'd on success
        }
        if (mode == LaunchMode.MountOnly)
        {
            outcome.Status = LaunchStatus.Failed;
            outcome.FuseReason = reason;
            return;
        }
        RunCached(ref launch, uuid, reason, ref outcome);
    }

    /// <summary>
    /// False (and the outcome says why) for a file that ends before its image does: a download or copy cut short must
    /// not run what a mount or cache entry of the whole file (same UUID) holds, nor fail half-way through extraction.
    /// The superblock is among the bytes read for the header when OFFSET is 4096 (xar's and Facebook's default); with a
    /// larger OFFSET, or no "hsqs" there, the mount or extraction reads and judges the image itself. One statx.
    /// </summary>
    private static bool ImageIsWhole(int fd, byte* data, int length, long headerOffset, long imageOffset, byte* xarPath, ref LaunchOutcome outcome)
    {
        const int BytesUsedAt = 40; // the superblock's bytes_used, little-endian u64
        if (headerOffset + BytesUsedAt + 8 > length)
            return true;
        byte* superblock = data + headerOffset;
        if (!new ReadOnlySpan<byte>(superblock, 4).SequenceEqual("hsqs"u8))
            return true;
        ulong bytesUsed = System.Buffers.Binary.BinaryPrimitives.ReadUInt64LittleEndian(new ReadOnlySpan<byte>(superblock + BytesUsedAt, 8));
        LibC.Statx st;
        if (!TrustedDirectory.Stat(fd, &st) || !st.IsRegularFile)
            return true; // what statx cannot tell, reading the image will
        ulong available = st.Size > (ulong)imageOffset ? st.Size - (ulong)imageOffset : 0; // no sum to overflow
        if (bytesUsed <= available)
            return true;
        LaunchFailure.Set(ref outcome, LaunchSubject.XarFile, LaunchProblem.CutShort, 0, xarPath);
        return false;
    }

    /// <summary>Up to <see cref="XarHeaderScan.BytesNeeded"/> bytes at <paramref name="at"/>: how many, or -1 with the outcome filled.</summary>
    private static int ReadHead(int fd, byte* data, long at, byte* xarPath, ref LaunchOutcome outcome)
    {
        int length = 0;
        while (length < XarHeaderScan.BytesNeeded)
        {
            nint n = Pread(fd, data + length, XarHeaderScan.BytesNeeded - length, at + length);
            if (n < 0 && Errno == LibC.EINTR)
                continue;
            if (n < 0)
            {
                LaunchFailure.Set(ref outcome, LaunchSubject.XarFile, LaunchProblem.CannotRead, Errno, xarPath);
                return -1;
            }
            if (n == 0)
                break;
            length += (int)n;
        }
        return length;
    }

    /// <summary>What the steps of one launch share.</summary>
    private ref struct Launch(byte* xarPath, byte** args, int argCount, ProcessEnvironment env, NativeText target, long offset, long timeout, LaunchMode mode)
    {
        public readonly byte* XarPath = xarPath;
        public readonly byte** Args = args;
        public readonly int ArgCount = argCount;
        public readonly ProcessEnvironment Env = env;
        public readonly NativeText Target = target;
        /// <summary>Where the image starts in the XAR file's descriptor (the archive's offset + OFFSET).</summary>
        public readonly long Offset = offset;
        public readonly long TimeoutSeconds = timeout;
        public readonly LaunchMode Mode = mode;
        /// <summary>XAR_EXEC and XAR_EXEC_ARGS; IsNull when the header has none.</summary>
        public NativeText Exec, ExecArgs;
        /// <summary>XAR_FUSE=squashfuse: mount with squashfuse_ll/squashfuse rather than the built-in server.</summary>
        public bool SquashFuse;
        /// <summary>Under a trust policy (<see cref="TrustLength"/> &gt; 0): this file's <see cref="TrustRecord"/> line.</summary>
        public byte* TrustLine;
        public int TrustLength;
        /// <summary>This process checked this very file's signature (the caller's line is this file's).</summary>
        public bool VerifiedNow;

        public readonly bool UnderPolicy => TrustLength > 0;
    }

    /// <summary>
    /// The trust policy (<see cref="TrustPolicy"/>): without trusted keys, nothing to do (<paramref name="trustLength"/> 0).
    /// With them, the header must carry a signature by one of them (else the launch fails: nothing was mounted or
    /// extracted); the file's <see cref="TrustRecord"/> line goes to <paramref name="trustLine"/>, and
    /// <paramref name="verifiedNow"/> tells whether it is the line of a file this process has just checked.
    /// </summary>
    private static bool CheckTrust(ProcessEnvironment env, in XarHeaderScan header, int fd, byte* trustLine, byte* verified,
        out int trustLength, out bool verifiedNow, ref LaunchOutcome outcome)
    {
        trustLength = 0;
        verifiedNow = false;
        TrustedKeys keys = default;
        if (!TrustPolicy.Load(env, ref keys, ref outcome))
            return false;
        if (!keys.InForce)
            return true;
        Span<byte> keyId = stackalloc byte[Signing.MinisignPublicKey.KeyIdLength];
        var fault = Signing.XarSignatureField.TryKeyId(header.Signature, header.HasSignature, keyId);
        if (fault != Signing.SignatureFieldFault.None)
        {
            LaunchFailure.Set(ref outcome, LaunchSubject.Signature, fault == Signing.SignatureFieldFault.Missing ? LaunchProblem.NotSigned : LaunchProblem.Malformed, 0, null);
            return false;
        }
        if (keys.IndexOf(keyId) < 0)
        {
            LaunchFailure.Set(ref outcome, LaunchSubject.Signature, LaunchProblem.UntrustedSigner, 0, null);
            Span<byte> id = stackalloc byte[2 * Signing.MinisignPublicKey.KeyIdLength];
            new PathBuilder(outcome.DetailPointer(), LaunchOutcome.PathCapacity).Append(id[..Signing.MinisignPublicKey.WriteKeyId(keyId, id)]);
            return false;
        }
        trustLength = TrustRecord.FormatLine(fd, keyId, trustLine);
        if (trustLength == 0)
        {
            LaunchFailure.Set(ref outcome, LaunchSubject.XarFile, LaunchProblem.CannotStat, Errno, null);
            return false;
        }
        verifiedNow = verified != null && NativeText.FromCString(verified).SequenceEqual(new NativeText(trustLine, trustLength));
        return true;
    }

    /// <summary>XAREXEC_TARGET must name a path inside the image: not empty, relative, no ".." component.</summary>
    private static bool CheckTarget(NativeText target, ref LaunchOutcome outcome)
    {
        if (target.IsEmpty)
        {
            LaunchFailure.Set(ref outcome, LaunchSubject.Target, LaunchProblem.NoTarget, 0, null);
            return false;
        }
        bool dotDot = false;
        int start = 0;
        while (start <= target.Length)
        {
            int slash = target.IndexOf((byte)'/', start);
            int end = slash < 0 ? target.Length : slash;
            dotDot |= end - start == 2 && target[start] == '.' && target[start + 1] == '.';
            if (slash < 0)
                break;
            start = slash + 1;
        }
        if (target[0] == '/' || dotDot || target.IndexOf(0) >= 0)
        {
            LaunchFailure.Set(ref outcome, LaunchSubject.Target, LaunchProblem.TargetNotRelative, 0, null);
            LaunchFailure.Copy(target, outcome.DetailPointer());
            return false;
        }
        return true;
    }

    /// <summary>
    /// Opens <paramref name="path"/> (inside a mount or cache entry) as the program's target: a regular file,
    /// kept open across exec (moved above 0-2, not close-on-exec) so the mount stays busy while the shell opens it.
    /// </summary>
    private static int OpenTarget(byte* path, NativeText target, ref LaunchOutcome outcome)
    {
        int fd = Open(path, LibC.O_RDONLY | LibC.O_NOCTTY | LibC.O_CLOEXEC, 0);
        LibC.Statx st;
        if (fd < 0 || !TrustedDirectory.Stat(fd, &st) || !st.IsRegularFile)
        {
            int errno = fd < 0 ? Errno : LibC.EISDIR;
            if (fd >= 0)
                Close(fd);
            LaunchFailure.Set(ref outcome, LaunchSubject.Target, errno is LibC.ENOENT or LibC.ENOTDIR ? LaunchProblem.TargetNotInImage
                : errno == LibC.EISDIR ? LaunchProblem.NotARegularFile : LaunchProblem.CannotOpen, errno, path);
            LaunchFailure.Copy(target, outcome.DetailPointer());
            return -1;
        }
        int kept = Fcntl(fd, LibC.F_DUPFD, 3); // lowest free >= 3, without close-on-exec
        Close(fd);
        if (kept < 0)
            LaunchFailure.Set(ref outcome, LaunchSubject.Target, LaunchProblem.CannotKeepOpen, Errno, path);
        return kept;
    }

    /// <summary>
    /// Replaces the process with <c>/bin/sh -e SCRIPT XARPATH ARGS...</c> (the XAR path and arguments byte for
    /// byte as given), the caller's umask and SIGPIPE's default restored. Returns only when execv failed.
    /// </summary>
    /// <remarks>
    /// XARFUSE_NEW_MOUNT is set only once launch.Env has been read for the last time: setenv may move the
    /// live environment and free the array launch.Env points into (when an earlier setenv had allocated it).
    /// </remarks>
    private static void Exec(in Launch launch, byte* script, uint savedUmask, bool newMount, ref LaunchOutcome outcome)
    {
        if (!launch.Exec.IsNull)
        {
            // The directory holding the script: what the bootstrap computes as XAR_MOUNT ("${0%/*}").
            byte* directory = stackalloc byte[PathBuilder.Capacity];
            int length = NativeText.FromCString(script).Length - launch.Target.Length - 1;
            if (length > 0)
            {
                LaunchFailure.Copy(new NativeText(script, length), directory);
                TryExecEntrypoint(launch, directory, savedUmask, newMount);
            }
        }
        // On the stack for any usual command line; malloc for a huge one.
        const int OnStack = 256;
        int count = launch.ArgCount + 4;
        byte** stackArgs = stackalloc byte*[OnStack];
        byte** argv = count <= OnStack ? stackArgs : (byte**)Malloc((nuint)count * (nuint)sizeof(byte*));
        if (argv == null)
        {
            LaunchFailure.Set(ref outcome, LaunchSubject.Program, LaunchProblem.CannotExec, LibC.ENOMEM, script);
            return;
        }
        fixed (byte* sh = "/bin/sh\0"u8)
        fixed (byte* e = "-e\0"u8)
        {
            argv[0] = sh;
            argv[1] = e;
            argv[2] = script;
            argv[3] = launch.XarPath;
            for (int i = 0; i < launch.ArgCount; i++)
                argv[4 + i] = launch.Args[i];
            argv[count] = null;
            SetNewMount(newMount);
            Umask(savedUmask);
            Signal(LibC.SIGPIPE, 0 /* SIG_DFL */);
            Execv(sh, argv);
            int errno = Errno;
            Umask(CreationUmask);
            LaunchFailure.Set(ref outcome, LaunchSubject.Program, LaunchProblem.CannotExec, errno, sh);
        }
        if (argv != stackArgs)
            Free(argv);
    }

    private static void SetNewMount(bool isNew)
    {
        fixed (byte* name = "XARFUSE_NEW_MOUNT\0"u8)
        fixed (byte* one = "1\0"u8)
        {
            if (isNew)
                SetEnv(name, one, 1);
            else
                UnsetEnv(name);
        }
    }

    /// <summary>
    /// Writes the XAR file a mount or cache entry was made from (where the kernel has the open file, one line)
    /// into its lock file, held exclusively: gc names it, and unmounts a mount whose file is gone or replaced.
    /// </summary>
    public static void RecordXarFile(int lockFd, int xarFd)
    {
        byte* path = stackalloc byte[PathBuilder.Capacity + 1];
        if (!TrustedDirectory.TryProcFdPath(xarFd, path))
            return;
        int length = NativeText.FromCString(path).Length;
        path[length] = (byte)'\n';
        if (Pwrite(lockFd, path, length + 1, 0) == length + 1)
            Ftruncate(lockFd, length + 1);
    }

    /// <summary>Reads a small file (/etc/fuse.conf, /proc/self/cgroup) into <paramref name="buffer"/>: its length, or -1.</summary>
    internal static int ReadSmallFile(ReadOnlySpan<byte> pathWithNul, byte* buffer, int capacity)
    {
        int fd;
        fixed (byte* path = pathWithNul)
            fd = Open(path, LibC.O_RDONLY | LibC.O_CLOEXEC, 0);
        if (fd < 0)
            return -1;
        int total = 0;
        while (total < capacity)
        {
            nint n = Read(fd, buffer + total, capacity - total);
            if (n < 0 && Errno == LibC.EINTR)
                continue;
            if (n <= 0)
                break;
            total += (int)n;
        }
        Close(fd);
        return total;
    }
}
