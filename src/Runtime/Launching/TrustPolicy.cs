using Xar.Posix;
using Xar.Runtime.Signing;
using static Xar.Posix.RawLibC;

namespace Xar.Runtime.Launching;

/// <summary>
/// The trust policy: the minisign public keys (<c>*.pub</c>) in <c>/etc/xar/trusted-keys.d</c> and, for the user
/// that owns it, <c>$HOME/.config/xar/trusted-keys.d</c>. With at least one key, the launcher runs only files signed
/// by one of them. Read by the launch core on every launch, so allocation-free: without either directory it costs
/// two failed opens. A policy that cannot be read safely (a key directory or key file another user can change, a
/// key that is not one) stops every launch rather than being ignored; a user directory that belongs to someone
/// else, or lies in a HOME that is someone else's and closed to us (a HOME not ours, as under sudo), is not ours to
/// read and is skipped.
/// </summary>
public static unsafe class TrustPolicy
{
    public const string SystemDirectory = "/etc/xar/trusted-keys.d";
    public const string UserDirectory = ".config/xar/trusted-keys.d";
    private const int MaxKeyFileBytes = 4096;

    /// <summary>Fills <paramref name="keys"/> (Count 0: no policy); false with the outcome filled when the policy cannot be read.</summary>
    public static bool Load(ProcessEnvironment env, ref TrustedKeys keys, ref LaunchOutcome outcome)
    {
        keys.Count = 0;
        byte* path = stackalloc byte[PathBuilder.Capacity];
        var system = new PathBuilder(path);
        system.Append("/etc/xar/trusted-keys.d"u8);
        if (!LoadDirectory(path, ownerMustBeRoot: true, ref keys, ref outcome))
            return false;
        var home = env.Get("HOME"u8);
        if (home.IsNull || home.IsEmpty || home[0] != '/')
            return true;
        var user = new PathBuilder(path);
        user.Append(home);
        user.TrimTrailingSlashes();
        user.Append("/.config/xar/trusted-keys.d"u8);
        if (!user.Fits)
            return true;
        var (status, subject, problem, errno) = (outcome.Status, outcome.Subject, outcome.Problem, outcome.Errno);
        if (LoadDirectory(path, ownerMustBeRoot: false, ref keys, ref outcome))
            return true;
        if (outcome.Problem != LaunchProblem.CannotOpen || outcome.Errno != LibC.EACCES || IsOurs(home))
            return false;
        // A HOME not ours that we cannot even search (root's, under setpriv or su): not our policy.
        (outcome.Status, outcome.Subject, outcome.Problem, outcome.Errno) = (status, subject, problem, errno);
        return true;
    }

    /// <summary>True when the directory HOME names is ours (or cannot be examined, which leaves the refusal standing).</summary>
    private static bool IsOurs(NativeText home)
    {
        byte* path = stackalloc byte[PathBuilder.Capacity];
        var builder = new PathBuilder(path);
        builder.Append(home);
        if (!builder.Fits)
            return true;
        int fd = Open(path, LibC.O_PATH | LibC.O_CLOEXEC, 0);
        if (fd < 0)
            return true;
        LibC.Statx st;
        bool ours = !TrustedDirectory.Stat(fd, &st) || st.Uid == GetEuid();
        Close(fd);
        return ours;
    }

    private static bool LoadDirectory(byte* path, bool ownerMustBeRoot, ref TrustedKeys keys, ref LaunchOutcome outcome)
    {
        int fd = Open(path, LibC.O_RDONLY | LibC.O_DIRECTORY | LibC.O_CLOEXEC | LibC.O_NOCTTY, 0);
        if (fd < 0)
        {
            int errno = Errno;
            if (errno is LibC.ENOENT or LibC.ENOTDIR)
                return true;
            LaunchFailure.Set(ref outcome, LaunchSubject.TrustedKey, LaunchProblem.CannotOpen, errno, path);
            return false;
        }
        LibC.Statx st;
        uint euid = GetEuid();
        if (!TrustedDirectory.Stat(fd, &st))
        {
            LaunchFailure.Set(ref outcome, LaunchSubject.TrustedKey, LaunchProblem.CannotStat, Errno, path);
            Close(fd);
            return false;
        }
        if (!ownerMustBeRoot && st.Uid != euid)
        {
            Close(fd); // another user's directory (HOME not ours): not our policy
            return true;
        }
        if (!CheckOwnerAndMode(st, ownerMustBeRoot, path, ref outcome))
        {
            Close(fd);
            return false;
        }
        bool ok = LoadKeys(fd, path, ownerMustBeRoot, ref keys, ref outcome);
        Close(fd);
        return ok;
    }

    /// <summary>Owned by root (the system directory and its keys) or by root or us (the user's), writable by nobody else.</summary>
    private static bool CheckOwnerAndMode(in LibC.Statx st, bool ownerMustBeRoot, byte* path, ref LaunchOutcome outcome)
    {
        var problem = st.Uid != 0 && (ownerMustBeRoot || st.Uid != GetEuid()) ? LaunchProblem.WrongOwner
            : (st.Permissions & 0x12) != 0 ? LaunchProblem.WritableByOthers : LaunchProblem.None;
        if (problem == LaunchProblem.None)
            return true;
        LaunchFailure.Set(ref outcome, LaunchSubject.TrustedKey, problem, 0, path);
        outcome.ObservedUid = st.Uid;
        outcome.ObservedMode = st.Mode;
        return false;
    }

    private static bool LoadKeys(int dirFd, byte* dirPath, bool ownerMustBeRoot, ref TrustedKeys keys, ref LaunchOutcome outcome)
    {
        byte* entries = stackalloc byte[4096];
        byte* text = stackalloc byte[MaxKeyFileBytes];
        byte* keyPath = stackalloc byte[PathBuilder.Capacity];
        Span<byte> keyId = stackalloc byte[MinisignPublicKey.KeyIdLength];
        Span<byte> key = stackalloc byte[MinisignPublicKey.KeyLength];
        while (true)
        {
            nint n = GetDents64(dirFd, entries, 4096);
            if (n < 0)
            {
                LaunchFailure.Set(ref outcome, LaunchSubject.TrustedKey, LaunchProblem.CannotRead, Errno, dirPath);
                return false;
            }
            if (n == 0)
                return true;
            for (nint at = 0; at < n;)
            {
                // linux_dirent64: d_ino (8), d_off (8), d_reclen (2), d_type (1), d_name (NUL-terminated).
                ushort recordLength = *(ushort*)(entries + at + 16);
                byte* name = entries + at + 19;
                at += recordLength;
                var nameText = NativeText.FromCString(name);
                if (nameText.Length < 5 || name[0] == '.' || !nameText.Slice(nameText.Length - 4).SequenceEqual(".pub"u8))
                    continue;
                var full = new PathBuilder(keyPath);
                full.Append(NativeText.FromCString(dirPath));
                full.Append((byte)'/');
                full.Append(nameText);
                if (!LoadKey(dirFd, name, keyPath, ownerMustBeRoot, text, keyId, key, ref outcome))
                    return false;
                if (!keys.Contains(keyId, key) && !keys.TryAdd(keyId, key)) // the same key in two files counts once; another key with the same id is kept
                {
                    LaunchFailure.Set(ref outcome, LaunchSubject.TrustedKey, LaunchProblem.TooMany, 0, dirPath);
                    return false;
                }
            }
        }
    }

    private static bool LoadKey(int dirFd, byte* name, byte* path, bool ownerMustBeRoot, byte* text, Span<byte> keyId, Span<byte> key, ref LaunchOutcome outcome)
    {
        int fd = OpenAt(dirFd, name, LibC.O_RDONLY | LibC.O_CLOEXEC | LibC.O_NOCTTY | LibC.O_NONBLOCK, 0);
        if (fd < 0)
        {
            LaunchFailure.Set(ref outcome, LaunchSubject.TrustedKey, LaunchProblem.CannotOpen, Errno, path);
            return false;
        }
        LibC.Statx st;
        bool ok = TrustedDirectory.Stat(fd, &st);
        if (ok && !st.IsRegularFile)
        {
            LaunchFailure.Set(ref outcome, LaunchSubject.TrustedKey, LaunchProblem.NotARegularFile, 0, path);
            ok = false;
        }
        else if (!ok)
        {
            LaunchFailure.Set(ref outcome, LaunchSubject.TrustedKey, LaunchProblem.CannotStat, Errno, path);
        }
        ok = ok && CheckOwnerAndMode(st, ownerMustBeRoot, path, ref outcome);
        int length = 0;
        while (ok && length < MaxKeyFileBytes)
        {
            nint n = Read(fd, text + length, MaxKeyFileBytes - length);
            if (n < 0 && Errno == LibC.EINTR)
                continue;
            if (n < 0)
            {
                LaunchFailure.Set(ref outcome, LaunchSubject.TrustedKey, LaunchProblem.CannotRead, Errno, path);
                ok = false;
            }
            if (n <= 0)
                break;
            length += (int)n;
        }
        Close(fd);
        if (ok && MinisignPublicKey.TryParse(new ReadOnlySpan<byte>(text, length), keyId, key) != MinisignKeyFault.None)
        {
            LaunchFailure.Set(ref outcome, LaunchSubject.TrustedKey, LaunchProblem.Malformed, 0, path);
            ok = false;
        }
        return ok;
    }
}
