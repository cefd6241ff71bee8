using Xar.Posix;
using static Xar.Posix.RawLibC;

namespace Xar.Runtime.Launching;

/// <summary>
/// The entrypoint started directly, without the bootstrap script's /bin/sh (about 1 ms a start): when the
/// target is xar's own bootstrap and the header names what it runs (<c>XAR_EXEC</c>, <c>XAR_EXEC_ARGS</c>),
/// the launcher does what the script would, as Debian's /bin/sh (dash) does it, and execs the entrypoint
/// with the same arguments and environment. Facebook's launcher ignores those fields and runs the script.
/// </summary>
public static unsafe partial class LaunchCore
{
    /// <summary>True for <c>xar_bootstrap.sh</c> and <c>xar_bootstrap_N.sh</c>, the names <see cref="XarFile"/> gives its script.</summary>
    private static bool IsOwnBootstrap(NativeText target)
    {
        var name = new ReadOnlySpan<byte>(target.Start, target.Length);
        if (name.SequenceEqual("xar_bootstrap.sh"u8))
            return true;
        if (!name.StartsWith("xar_bootstrap_"u8) || !name.EndsWith(".sh"u8))
            return false;
        var digits = name["xar_bootstrap_".Length..^3];
        if (digits.IsEmpty)
            return false;
        foreach (byte b in digits)
            if (b is < (byte)'0' or > (byte)'9')
                return false;
        return true;
    }

    /// <summary>
    /// Execs <c>DIR/XAR_EXEC FIXED-ARGS... ARGS...</c> with XAR_PATH, XAR_MOUNT and PWD set as the bootstrap
    /// sets them (and variables whose names the shell would drop dropped). Returns when that cannot be done
    /// (nothing named, a malformed field, execve failing): the caller then runs the bootstrap itself.
    /// </summary>
    private static void TryExecEntrypoint(in Launch launch, byte* directory, uint savedUmask, bool newMount)
    {
        var exec = launch.Exec;
        if (exec.IsNull || exec.IsEmpty || !IsOwnBootstrap(launch.Target) || exec[0] == '/' || exec.IndexOf(0) >= 0)
            return;
        int dirLength = NativeText.FromCString(directory).Length;
        byte* program = stackalloc byte[PathBuilder.Capacity];
        var programPath = new PathBuilder(program);
        programPath.Append(new NativeText(directory, dirLength));
        programPath.Append((byte)'/');
        programPath.Append(exec);
        if (!programPath.Fits)
            return;

        // Fixed arguments, decoded into one block: as many as XAR_EXEC_ARGS has tokens, at most.
        int fixedCount = 0;
        var encoded = launch.ExecArgs.IsNull ? default : new ReadOnlySpan<byte>(launch.ExecArgs.Start, launch.ExecArgs.Length);
        if (!launch.ExecArgs.IsNull)
        {
            if (encoded.IsEmpty)
                return;
            fixedCount = encoded.Count((byte)' ') + 1;
        }
        int count = 1 + fixedCount + launch.ArgCount;
        byte** argv = (byte**)Malloc((nuint)(count + 1) * (nuint)sizeof(byte*));
        byte* decoded = (byte*)Malloc((nuint)(encoded.Length + fixedCount + 1));
        if (argv == null || decoded == null)
        {
            Free(argv);
            Free(decoded);
            return;
        }
        argv[0] = program;
        var rest = encoded;
        byte* next = decoded;
        int at = 1;
        bool wellFormed = true;
        while (!rest.IsEmpty && wellFormed)
        {
            wellFormed = XarExecArguments.TryDecodeNext(ref rest, new Span<byte>(next, encoded.Length), out int length);
            if (wellFormed)
            {
                next[length] = 0;
                argv[at++] = next;
                next += length + 1;
            }
        }
        if (wellFormed)
        {
            for (int i = 0; i < launch.ArgCount; i++)
                argv[at++] = launch.Args[i];
            argv[at] = null;
            if (SetBootstrapEnvironment(launch, directory))
            {
                SetNewMount(newMount);
                Umask(savedUmask);
                Signal(LibC.SIGPIPE, 0 /* SIG_DFL */);
                Execv(program, argv); // returns only on failure: the bootstrap then says why, as it would have
                Umask(CreationUmask);
            }
        }
        Free(argv);
        Free(decoded);
    }

    /// <summary>
    /// The environment /bin/sh -e BOOTSTRAP would give the entrypoint: variables whose names are not shell
    /// names dropped, PWD as dash sets it, XAR_PATH (the XAR file, absolute) and XAR_MOUNT (the directory).
    /// </summary>
    private static bool SetBootstrapEnvironment(in Launch launch, byte* directory)
    {
        // PWD: dash keeps an inherited absolute PWD that names the current directory, else asks getcwd.
        byte* pwd = stackalloc byte[PathBuilder.Capacity];
        var inherited = launch.Env.Get("PWD"u8);
        bool keep = false;
        if (!inherited.IsNull && !inherited.IsEmpty && inherited[0] == '/' && inherited.Length < PathBuilder.Capacity)
        {
            LaunchFailure.Copy(inherited, pwd);
            LibC.Statx named, dot;
            fixed (byte* here = ".\0"u8)
                keep = StatxAt(LibC.AT_FDCWD, pwd, 0, LibC.STATX_BASIC_STATS, &named) == 0
                    && StatxAt(LibC.AT_FDCWD, here, 0, LibC.STATX_BASIC_STATS, &dot) == 0
                    && named.IsSameFileAs(dot);
        }
        if (!keep && GetCwd(pwd, PathBuilder.Capacity) == null)
            return false;

        // XAR_PATH: case "$1" in ''|/*) "$1" ;; *) "${PWD%/}/${1#./}" ;; esac
        byte* xarPath = stackalloc byte[PathBuilder.Capacity];
        var path = new PathBuilder(xarPath);
        var given = NativeText.FromCString(launch.XarPath);
        if (given.IsEmpty || given[0] == '/')
        {
            path.Append(given);
        }
        else
        {
            var dir = NativeText.FromCString(pwd);
            path.Append(dir.Length > 0 && dir[dir.Length - 1] == '/' ? dir.Slice(0, dir.Length - 1) : dir);
            path.Append((byte)'/');
            path.Append(given.Length >= 2 && given[0] == '.' && given[1] == '/' ? given.Slice(2) : given);
        }
        if (!path.Fits)
            return false;

        DropNonShellNames(launch.Env);
        fixed (byte* pwdName = "PWD\0"u8)
        fixed (byte* pathName = "XAR_PATH\0"u8)
        fixed (byte* mountName = "XAR_MOUNT\0"u8)
            return SetEnv(pwdName, pwd, 1) == 0 && SetEnv(pathName, xarPath, 1) == 0 && SetEnv(mountName, directory, 1) == 0;
    }

    /// <summary>The shell passes on only variables named like shell variables ([A-Za-z_][A-Za-z0-9_]*): the rest go.</summary>
    private static void DropNonShellNames(ProcessEnvironment env)
    {
        // The names first, then unsetenv: it edits the live environment, which may no longer be this array.
        const int Capacity = 8192;
        byte* names = stackalloc byte[Capacity];
        int used = 0;
        for (byte** entry = env.Envp; entry != null && *entry != null; entry++)
        {
            byte* text = *entry;
            int length = 0;
            bool valid = !(text[0] >= '0' && text[0] <= '9');
            for (; text[length] != 0 && text[length] != '='; length++)
            {
                byte c = text[length];
                valid &= c is >= (byte)'a' and <= (byte)'z' or >= (byte)'A' and <= (byte)'Z' or >= (byte)'0' and <= (byte)'9' or (byte)'_';
            }
            if (valid || length == 0 || used + length + 1 > Capacity)
                continue;
            for (int i = 0; i < length; i++)
                names[used + i] = text[i];
            names[used + length] = 0;
            used += length + 1;
        }
        for (int at = 0; at < used; at += NativeText.FromCString(names + at).Length + 1)
            UnsetEnv(names + at);
    }
}
