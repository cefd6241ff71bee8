namespace Xar.Runtime.Launching;

/// <summary>What the caller of <see cref="LaunchCore.Run"/> wants done.</summary>
public enum LaunchMode : byte
{
    /// <summary>Mount (or find the cache entry) and exec the program: returns only when that cannot be done.</summary>
    Run,
    /// <summary>Mount (or find the cache entry) and report the directory; run nothing.</summary>
    Mount,
    /// <summary>Report the mount directory (the cache entry under XAR_EXTRACT=1) without mounting anything.</summary>
    Locate,
    /// <summary>Mount and report the directory; where FUSE cannot serve, fail with the reason (nothing is extracted).</summary>
    MountOnly,
}

public enum LaunchStatus : byte
{
    /// <summary><see cref="LaunchOutcome.Subject"/> and <see cref="LaunchOutcome.Problem"/> say what failed.</summary>
    Failed,
    /// <summary>Mount mode: the image is mounted at <see cref="LaunchOutcome.Directory"/>.</summary>
    Mounted,
    /// <summary>Mount mode, where FUSE cannot serve: the complete cache entry is <see cref="LaunchOutcome.Directory"/>.</summary>
    Cached,
    /// <summary>Locate mode: <see cref="LaunchOutcome.Directory"/> is where the image would be.</summary>
    Located,
    /// <summary>
    /// FUSE cannot serve (<see cref="LaunchOutcome.FuseReason"/>) and the cache holds no entry: extract the image,
    /// read through <see cref="LaunchOutcome.XarFd"/>, into <see cref="LaunchOutcome.CacheRootFd"/> (<see cref="LaunchOutcome.Directory"/>
    /// names that directory) under the entry's lock, then run the launch again.
    /// </summary>
    NeedsExtraction,
    /// <summary>
    /// The cache entry (<see cref="LaunchOutcome.Directory"/>, in <see cref="LaunchOutcome.CacheRootFd"/>) records an image,
    /// and this XAR file is not among the files known to hold it (<see cref="CacheEntryRecord"/>): hash the image read
    /// through <see cref="LaunchOutcome.XarFd"/>, compare, list the file when it matches, then run the launch again.
    /// </summary>
    NeedsImageCheck,
    /// <summary>
    /// A trust policy is in force and this file has not been checked yet (it is not listed in the mount's or cache
    /// entry's <see cref="TrustRecord"/>): check its signature over the whole file, read through <see cref="LaunchOutcome.XarFd"/>,
    /// then run the launch again with the file's <see cref="TrustRecord"/> line. Nothing was mounted or extracted.
    /// </summary>
    NeedsVerification,
}

/// <summary>What a failed step was about.</summary>
public enum LaunchSubject : byte
{
    None,
    XarFile,
    Header,
    Target,
    MountTimeout,
    /// <summary>XAR_FUSE, which names the FUSE server to mount with.</summary>
    FuseServer,
    MountRoot,
    UserDirectory,
    LockFile,
    MountDirectory,
    CacheRoot,
    CacheEntry,
    Program,
    /// <summary>A key file or directory of the trust policy (<see cref="TrustPolicy"/>).</summary>
    TrustedKey,
    /// <summary>The file's signature, under a trust policy.</summary>
    Signature,
}

/// <summary>What was wrong with the subject (<see cref="LaunchOutcome.Errno"/> and the observed values give details).</summary>
public enum LaunchProblem : byte
{
    None,
    CannotOpen,
    CannotRead,
    CannotCreate,
    CannotSetMode,
    CannotLock,
    CannotStat,
    CannotUnmount,
    CannotExec,
    CannotKeepOpen,
    Missing,
    NotADirectory,
    NotARegularFile,
    WrongOwner,
    WrongGroup,
    WrongMode,
    WritableByOthers,
    NotWritable,
    /// <summary>A directory above it can be changed by another user (<see cref="LaunchOutcome.Detail"/> names it).</summary>
    UntrustedParent,
    BrokenMountRemains,
    /// <summary>The header breaks a rule: <see cref="LaunchOutcome.HeaderFault"/>.</summary>
    InvalidHeader,
    NoTarget,
    TargetNotRelative,
    TargetNotInImage,
    NotANumber,
    /// <summary>A setting whose value is none of those it may take (<see cref="LaunchOutcome.Detail"/> holds it).</summary>
    UnknownValue,
    TooLong,
    /// <summary>No cache directory where programs may run (each candidate was unusable or noexec).</summary>
    NoneUsable,
    /// <summary>Not as its format requires (a trusted key file, a signature).</summary>
    Malformed,
    /// <summary>More trusted keys than <see cref="TrustedKeys.Capacity"/>.</summary>
    TooMany,
    /// <summary>The file is not signed, and a trust policy is in force.</summary>
    NotSigned,
    /// <summary>Signed with a key that is not trusted (<see cref="LaunchOutcome.Detail"/>: its id).</summary>
    UntrustedSigner,
    /// <summary>A cache entry made by an earlier xar records no image: it cannot be tied to a checked file.</summary>
    NoImageRecord,
    /// <summary>The file ends before its image does (the superblock's bytes_used): a broken download or copy.</summary>
    CutShort,
    /// <summary>
    /// A FUSE file system is mounted on a directory of the path (<see cref="LaunchOutcome.Detail"/>): its owner and
    /// modes are what its server, perhaps another user's, says.
    /// </summary>
    ForeignMount,
    /// <summary>
    /// Something is mounted on a directory the launcher made (a user or shared cache directory): perhaps another
    /// user's FUSE server, mounted there before the launcher came to make it.
    /// </summary>
    MountedOver,
}

/// <summary>Why the image is extracted rather than mounted.</summary>
public enum FuseUnavailability : byte
{
    None,
    Forced,
    NoDevFuse,
    NoMountRoot,
    NoHelper,
    /// <summary>The helper failed: <see cref="LaunchOutcome.HelperStatus"/>, its output in <see cref="LaunchOutcome.Detail"/>.</summary>
    HelperFailed,
    MountDidNotAppear,
    /// <summary>
    /// The built-in FUSE server did not mount: its cause in <see cref="LaunchOutcome.Detail"/>; else it could not be started
    /// (<see cref="LaunchOutcome.HelperStatus"/> int.MinValue, <see cref="LaunchOutcome.Errno"/>), or ended with that status unasked.
    /// </summary>
    ServerFailed,
    /// <summary>The user's directory under the mount root is not usable (<see cref="LaunchOutcome.Problem"/>, <see cref="LaunchOutcome.Subject"/> hold why).</summary>
    UserDirectoryUnusable,
}

/// <summary>
/// The result of <see cref="LaunchCore.Run"/>: what was done, or which step failed, on what, and the errno.
/// A plain struct with its paths in fixed buffers, so the core fills it before the .NET runtime exists;
/// the managed launcher turns it into messages.
/// </summary>
public unsafe struct LaunchOutcome
{
    public const int PathCapacity = PathBuilder.Capacity;

    public LaunchStatus Status;
    public LaunchSubject Subject;
    public LaunchProblem Problem;
    public FuseUnavailability FuseReason;
    public XarHeaderFault HeaderFault;
    public int Errno;
    public uint ObservedUid, ObservedGid, ObservedMode, ExpectedMode;
    /// <summary>The exit status of a helper that failed (the FUSE server, squashfuse), minus the signal number when it was killed, int.MinValue when it could not be started.</summary>
    public int HelperStatus;
    /// <summary>The XAR file, open (close-on-exec) after a header was read: for the caller to extract from or re-read.</summary>
    public int XarFd;
    /// <summary>With <see cref="LaunchStatus.NeedsExtraction"/>: the chosen cache directory, open (O_PATH).</summary>
    public int CacheRootFd;
    /// <summary>Where the XAR starts in <see cref="XarFd"/>'s file: 0, or the end of the ELF runtime in front of it (a self-contained executable).</summary>
    public long ArchiveOffset;
    /// <summary>Where the image starts in that file: <see cref="ArchiveOffset"/> + the header's OFFSET.</summary>
    public long ImageOffset;
    public bool IsNewMount;
    /// <summary>The path a failure is about.</summary>
    public fixed byte SubjectPath[PathCapacity];
    /// <summary>A helper's name and output, an untrusted directory, or other detail.</summary>
    public fixed byte Detail[PathCapacity];
    /// <summary>The mount directory, cache entry or cache root (see <see cref="Status"/>).</summary>
    public fixed byte Directory[PathCapacity];

    /// <summary>Clears the outcome; <paramref name="keepDescriptors"/> keeps the open XAR file and cache root.</summary>
    public void Reset(bool keepDescriptors = false)
    {
        int xarFd = XarFd, cacheRootFd = CacheRootFd;
        long offset = ImageOffset, archiveOffset = ArchiveOffset;
        Status = LaunchStatus.Failed;
        Subject = LaunchSubject.None;
        Problem = LaunchProblem.None;
        FuseReason = FuseUnavailability.None;
        HeaderFault = XarHeaderFault.None;
        Errno = 0;
        ObservedUid = ObservedGid = ObservedMode = ExpectedMode = 0;
        HelperStatus = 0;
        XarFd = CacheRootFd = -1;
        ImageOffset = ArchiveOffset = 0;
        IsNewMount = false;
        SubjectPath[0] = 0;
        Detail[0] = 0;
        Directory[0] = 0;
        if (keepDescriptors)
        {
            XarFd = xarFd;
            CacheRootFd = cacheRootFd;
            ImageOffset = offset;
            ArchiveOffset = archiveOffset;
        }
    }
}
