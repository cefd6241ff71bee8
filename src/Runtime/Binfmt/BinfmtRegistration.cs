using static Xar.Posix.LibC;

namespace Xar.Runtime;

/// <summary>What binfmt_misc holds for one entry.</summary>
/// <param name="Enabled">The kernel uses it.</param>
/// <param name="Interpreter">The program it runs.</param>
/// <param name="PersistentFile">The /etc/binfmt.d file that registers it at boot, or null.</param>
public sealed record BinfmtStatus(bool Enabled, string Interpreter, string? PersistentFile);

/// <summary>
/// Registers the launcher with the kernel's binfmt_misc for files that begin with the XAR shebang
/// line, so that <c>./app.xar</c> runs xarexec directly instead of through <c>/usr/bin/env</c>:
/// one process and 0.6 ms less per start (bench/RESULTS.md, "Launch"). Machine-wide, root only.
/// </summary>
public static class BinfmtRegistration
{
    public const string DefaultName = "xar";
    public const string ControlDirectory = "/proc/sys/fs/binfmt_misc";
    /// <summary>Read at boot by systemd-binfmt.</summary>
    public const string PersistentDirectory = "/etc/binfmt.d";
    /// <summary>The shebang line every XAR starts with (DESIGN.md), as binfmt_misc magic.</summary>
    private const string Magic = "#!/usr/bin/env xarexec_fuse\\x0a";

    /// <summary>The line written to binfmt_misc's register file (and to /etc/binfmt.d).</summary>
    public static string RegistrationLine(string name, string launcher) => $":{name}:M::{Magic}::{launcher}:";

    /// <summary>
    /// The xarexec installed with the program at <paramref name="programPath"/> (beside it, or in
    /// the bin/ of its install prefix: PREFIX/lib/xar/xar/xar, out/xar/xar), else xarexec on PATH;
    /// an absolute path, or null.
    /// </summary>
    public static string? DefaultLauncher(string? programPath)
    {
        if (Launching.InstalledLauncher.Find(programPath) is { } installed)
            return installed;
        string? found = ChildProcess.FindOnPath("xarexec");
        return found is null ? null : Path.GetFullPath(found);
    }

    /// <summary>
    /// Registers <paramref name="launcher"/> for XAR files under <paramref name="name"/>, replacing an
    /// entry of that name; mounts binfmt_misc first when it is not mounted. With
    /// <paramref name="persist"/>, also writes /etc/binfmt.d/NAME.conf so it comes back at boot.
    /// </summary>
    /// <exception cref="ArgumentException">A bad name or launcher path.</exception>
    /// <exception cref="XarLaunchException">The kernel or file system refused (not root, no binfmt_misc).</exception>
    public static void Register(string name, string launcher, bool persist)
    {
        CheckName(name);
        if (!Path.IsPathFullyQualified(launcher) || launcher.Contains(':') || launcher.Contains('\n'))
            throw new ArgumentException($"the launcher must be an absolute path without ':' or newlines: {launcher}");
        if (PosixPath.TryStat(launcher) is not { IsRegularFile: true } || Access(launcher, 1 /* X_OK */) != 0)
            throw new ArgumentException($"the launcher {launcher} is not an executable file");
        EnsureMounted();
        string line = RegistrationLine(name, launcher);
        if (File.Exists(Path.Combine(ControlDirectory, name)))
            WriteControl(Path.Combine(ControlDirectory, name), "-1");
        WriteControl(Path.Combine(ControlDirectory, "register"), line);
        if (persist)
        {
            try
            {
                Directory.CreateDirectory(PersistentDirectory);
                File.WriteAllText(Path.Combine(PersistentDirectory, name + ".conf"),
                    "# XAR files run by xarexec directly, not through /usr/bin/env (written by `xar binfmt install`)\n" + line + "\n");
            }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException)
            {
                throw new XarLaunchException($"registered for now, but cannot write {PersistentDirectory}/{name}.conf to keep it after a reboot: {e.Message}");
            }
        }
    }

    /// <summary>Removes the entry and its /etc/binfmt.d file; false when there was neither.</summary>
    public static bool Unregister(string name)
    {
        CheckName(name);
        bool removed = false;
        string entry = Path.Combine(ControlDirectory, name);
        if (File.Exists(entry))
        {
            WriteControl(entry, "-1");
            removed = true;
        }
        string persistent = Path.Combine(PersistentDirectory, name + ".conf");
        try
        {
            if (File.Exists(persistent))
            {
                File.Delete(persistent);
                removed = true;
            }
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new XarLaunchException($"cannot delete {persistent}: {e.Message}");
        }
        return removed;
    }

    /// <summary>The entry as the kernel holds it, or null when it is not registered.</summary>
    public static BinfmtStatus? Status(string name)
    {
        CheckName(name);
        string entry = Path.Combine(ControlDirectory, name);
        string[] lines;
        try
        {
            lines = File.ReadAllLines(entry);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            return null;
        }
        string persistent = Path.Combine(PersistentDirectory, name + ".conf");
        string? interpreter = lines.FirstOrDefault(l => l.StartsWith("interpreter ", StringComparison.Ordinal))?["interpreter ".Length..];
        return new BinfmtStatus(lines.Contains("enabled"), interpreter ?? "", File.Exists(persistent) ? persistent : null);
    }

    private static void CheckName(string name)
    {
        if (name.Length == 0 || name.Length > 64 || name is "." or ".." or "register" or "status"
            || name.AsSpan().ContainsAnyExcept("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789._-"))
            throw new ArgumentException($"binfmt entry name \"{name}\" must be 1-64 letters, digits, '.', '_' or '-'");
    }

    private static void EnsureMounted()
    {
        if (File.Exists(Path.Combine(ControlDirectory, "register")))
            return;
        if (Mount("binfmt_misc", ControlDirectory, "binfmt_misc", 0, 0) != 0)
        {
            int errno = LastError;
            throw new XarLaunchException(errno is EPERM or EACCES
                ? "binfmt_misc is not mounted, and mounting it needs root"
                : $"cannot mount binfmt_misc on {ControlDirectory}: {Describe(errno)}");
        }
    }

    /// <summary>One write to a binfmt_misc control file (the kernel takes each write whole).</summary>
    private static void WriteControl(string path, string text)
    {
        try
        {
            using var control = new FileStream(path, FileMode.Open, FileAccess.Write, FileShare.ReadWrite, bufferSize: 0);
            control.Write(System.Text.Encoding.UTF8.GetBytes(text));
        }
        catch (UnauthorizedAccessException)
        {
            throw new XarLaunchException($"cannot write {path}: registering with binfmt_misc needs root");
        }
        catch (IOException e)
        {
            throw new XarLaunchException($"the kernel refused {text} in {path}: {e.Message}");
        }
    }
}
