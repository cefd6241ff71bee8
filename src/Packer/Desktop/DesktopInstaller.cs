using System.Diagnostics;
using Microsoft.Win32.SafeHandles;
using Xar.Packer.Cli;
using Xar.Posix;
using Xar.Runtime;
using Xar.SquashFs;

namespace Xar.Packer.Desktop;

/// <summary>
/// <c>xar desktop install|uninstall FILE</c>: a menu entry for a bundle, for this user only. The entry goes to
/// <c>$XDG_DATA_HOME/applications/APP_ID.desktop</c> (default <c>~/.local/share</c>), with Exec= and TryExec= the
/// absolute path of FILE, and its icon to <c>$XDG_DATA_HOME/icons/hicolor/{WxH|scalable}/apps/APP_ID.{png|svg}</c>.
/// APP_ID is the name of the desktop file at the image root, without .desktop: the same for every version of
/// the app, so installing a new one replaces the old entry. Read from the image with the project's reader, never mounted.
/// </summary>
public static class DesktopInstaller
{
    /// <summary>The key that marks an entry as written by this installer, holding the file it starts.</summary>
    public const string FileKey = "X-Xar-File";

    /// <summary>What install wrote: the entry and the icons.</summary>
    public sealed record class Installed(string AppId, string EntryPath, IReadOnlyList<string> IconPaths);

    /// <summary>The bundle's desktop entry and icons as the image holds them.</summary>
    private sealed record class Bundle(string AppId, DesktopEntry Entry, bool IsPlainXar, IReadOnlyList<(DesktopIcon Icon, byte[] Bytes)> Icons);

    public static Installed Install(string file, Action<string> warn)
    {
        CheckPath(file);
        // The specification writes a literal % as %%, but GLib looks the program up before undoing that, and so
        // never finds it: GNOME's menus (and gio launch) cannot start such an entry.
        if (file.Contains('%'))
            throw new UsageException("the path holds a %, with which GLib-based menus cannot start a menu entry's program (move or rename the file)", file);
        using var handle = OpenFile(file, out var status);
        if ((status.Mode & 0x49) == 0)
            throw new UsageException("is not executable (chmod +x it: the menu entry runs it)", file);
        var bundle = ReadBundle(handle, file, forInstall: true);
        // A plain XAR starts through its shebang's xarexec_fuse, or binfmt_misc: say so when neither is there.
        if (bundle.IsPlainXar && BinfmtRegistration.Status(BinfmtRegistration.DefaultName) is not { Enabled: true } && FindOnPath("xarexec_fuse") is null)
            warn($"{file} is a plain XAR, started through xarexec_fuse, which is not on PATH, and binfmt_misc has no xar entry: the menu cannot start it until one is there (make install, xar binfmt install), or pack it --self-contained");
        var entry = bundle.Entry;
        try
        {
            entry.RewriteAll("Exec", raw => DesktopExec.ReplaceProgram(raw, file));
        }
        catch (FormatException e)
        {
            throw new UsageException($"{bundle.AppId}{DesktopBundle.Extension}: {e.Message}", file);
        }
        entry.Set("TryExec", file);
        if (bundle.Icons.Count > 0)
            entry.Set("Icon", bundle.AppId);
        entry.Set(FileKey, file);

        var (applications, hicolor) = Directories();
        string entryPath = Path.Combine(applications, bundle.AppId + DesktopBundle.Extension);
        CheckOurs(entryPath, "replace");
        RemoveIcons(hicolor, bundle.AppId);
        var iconPaths = new List<string>();
        var fileMode = UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.GroupRead | UnixFileMode.OtherRead;
        foreach (var (icon, bytes) in bundle.Icons)
        {
            string directory = Path.Combine(hicolor, icon.ThemeDirectory, "apps");
            Directory.CreateDirectory(directory);
            string path = Path.Combine(directory, bundle.AppId + icon.Extension);
            AtomicFile.Write(path, fileMode, s => s.Write(bytes));
            iconPaths.Add(path);
            if (!icon.IsThemeSize)
                warn($"{path}: a {icon.Width}x{icon.Height} PNG, a size the hicolor icon theme does not list: menus may not show it");
        }
        Directory.CreateDirectory(applications);
        byte[] written = entry.ToBytes();
        AtomicFile.Write(entryPath, fileMode, s => s.Write(written));
        RefreshCaches(applications, hicolor, entry.Get("MimeType") is { Length: > 0 }, warn);
        return new Installed(bundle.AppId, entryPath, iconPaths);
    }

    /// <summary>
    /// Removes the entry and icons of FILE's app id. When FILE is gone, the entries that start it (their
    /// X-Xar-File) are removed. Returns what was removed (empty: nothing was installed).
    /// </summary>
    public static IReadOnlyList<string> Uninstall(string file, Action<string> warn)
    {
        CheckPath(file);
        var (applications, hicolor) = Directories();
        var ids = new List<string>();
        if (Path.Exists(file) || new FileInfo(file).LinkTarget is not null)
        {
            using var handle = OpenFile(file, out _);
            ids.Add(ReadBundle(handle, file, forInstall: false).AppId);
        }
        else
        {
            // The file is gone (deleted before its entry): the entries that name it say which app it was.
            if (Directory.Exists(applications))
                foreach (string path in Directory.EnumerateFiles(applications, "*" + DesktopBundle.Extension))
                    if (ReadEntry(path)?.Get(FileKey) == file)
                        ids.Add(Path.GetFileNameWithoutExtension(path));
            if (ids.Count == 0)
                throw new UsageException($"no such file, and no menu entry in {applications} starts it", file);
        }
        var removed = new List<string>();
        foreach (string id in ids)
        {
            string entryPath = Path.Combine(applications, id + DesktopBundle.Extension);
            if (!File.Exists(entryPath))
                continue;
            CheckOurs(entryPath, "remove");
            File.Delete(entryPath);
            removed.Add(entryPath);
            removed.AddRange(RemoveIcons(hicolor, id));
        }
        if (removed.Count > 0)
            RefreshCaches(applications, hicolor, handlesMimeTypes: false, warn);
        return removed;
    }

    /// <summary>The menu entry runs FILE from anywhere: an absolute path, one a desktop entry can hold.</summary>
    private static void CheckPath(string file)
    {
        if (!file.StartsWith('/'))
            throw new UsageException($"is a relative path; give the absolute path the menu entry will run (here: {Path.GetFullPath(file)})", file);
        if (file.Any(char.IsControl))
            throw new UsageException("the path holds a control character, which a menu entry's Exec line cannot hold", file.ReplaceLineEndings(" "));
    }

    private static SafeFileHandle OpenFile(string file, out LibC.Statx status)
    {
        int fd = LibC.Open(file, LibC.O_RDONLY | LibC.O_NONBLOCK | LibC.O_CLOEXEC, 0);
        if (fd < 0)
        {
            int errno = LibC.LastError;
            throw errno is LibC.ENOENT or LibC.ENOTDIR
                ? new UsageException("no such file", file)
                : new IOException($"cannot open: {LibC.Describe(errno)}");
        }
        var handle = new SafeFileHandle(fd, ownsHandle: true);
        if (LibC.FStatx(fd, out status) != 0 || !status.IsRegularFile)
        {
            handle.Dispose();
            throw new UsageException("is not a regular file", file);
        }
        return handle;
    }

    /// <summary>The desktop file at the image root (one), its app id, and the icons its Icon= key names there.</summary>
    private static Bundle ReadBundle(SafeFileHandle handle, string file, bool forInstall)
    {
        using var archive = XarArchive.Open(handle, leaveOpen: true);
        if (archive.Header is null && archive.ArchiveOffset == 0)
            throw new UsageException("is a bare SquashFS image, not a XAR: nothing starts it from a menu", file);
        if (forInstall && archive.Header is { ExecTarget: null })
            throw new UsageException("was packed without an entrypoint (--exec, or an AppRun at the root): nothing for a menu entry to start", file);
        var image = archive.Image;
        var names = image.EnumerateDirectory(image.Root).Select(e => e.Name)
            .Where(n => n.EndsWith(DesktopBundle.Extension, StringComparison.Ordinal) && n.Length > DesktopBundle.Extension.Length)
            .ToList();
        if (names.Count == 0)
            throw new UsageException("has no APP_ID.desktop at its image root (pack it with one: xar pack --desktop-file FILE)", file);
        if (names.Count > 1)
            throw new UsageException($"has {names.Count} desktop files at its image root ({string.Join(", ", names)}); a bundle has one", file);
        string name = names[0];
        string appId = name[..^DesktopBundle.Extension.Length];
        if (!appId.All(c => char.IsAsciiLetterOrDigit(c) || c is '.' or '_' or '-') || appId.StartsWith('.'))
            throw new UsageException($"{name}: the app id (the file name without .desktop) may hold only A-Za-z0-9 . _ -", file);
        byte[] bytes = ReadImageFile(image, name, file) ?? throw new UsageException($"{name}: not a regular file in the image", file);
        if (DesktopFileValidator.Validate(name, bytes).Error is { } error)
            throw new UsageException($"{name}: {error}", file);
        DesktopEntry entry;
        try
        {
            entry = DesktopEntry.Parse(bytes);
        }
        catch (FormatException e)
        {
            throw new UsageException($"{name}: {e.Message}", file);
        }
        if (forInstall && entry.Get("Type") != "Application")
            throw new UsageException($"{name}: Type={entry.Get("Type")}, not Application: nothing to start", file);
        var icons = new List<(DesktopIcon, byte[])>();
        if (entry.Get("Icon") is { Length: > 0 } iconName && !iconName.Contains('/'))
        {
            foreach (string candidate in new[] { iconName + ".png", iconName + ".svg" })
                if (ReadImageFile(image, candidate, file) is { } iconBytes && DesktopIcon.Identify(iconBytes) is { } icon && icon.Extension == Path.GetExtension(candidate))
                    icons.Add((icon, iconBytes));
            if (icons.Count == 0 && ReadImageFile(image, DesktopBundle.DirIcon, file) is { } dirIcon && DesktopIcon.Identify(dirIcon) is { } identified)
                icons.Add((identified, dirIcon));
        }
        return new Bundle(appId, entry, archive.Header is not null && archive.ArchiveOffset == 0, icons);
    }

    /// <summary>A regular file at the image root (symbolic links followed inside the image), or null.</summary>
    private static byte[]? ReadImageFile(SquashFsImage image, string name, string file)
    {
        var entry = image.GetEntry(name, followSymlinks: true);
        if (entry is null || entry.EntryType != SquashFsEntryType.RegularFile)
            return null;
        if (entry.Length > DesktopBundle.MaxBytes)
            throw new UsageException($"{name}: larger than {DesktopBundle.MaxBytes >> 20} MiB", file);
        using var data = image.OpenRead(entry);
        var bytes = new byte[entry.Length];
        data.ReadExactly(bytes);
        return bytes;
    }

    /// <summary>$XDG_DATA_HOME (when absolute, as the base directory specification says) or ~/.local/share: its applications/ and icons/hicolor/.</summary>
    private static (string Applications, string Hicolor) Directories()
    {
        string? data = Environment.GetEnvironmentVariable("XDG_DATA_HOME");
        if (data is null || !data.StartsWith('/'))
        {
            string? home = Environment.GetEnvironmentVariable("HOME");
            if (home is null || !home.StartsWith('/'))
                throw new UsageException("neither XDG_DATA_HOME nor HOME is an absolute path: nowhere to install a menu entry");
            data = Path.Combine(home, ".local", "share");
        }
        return (Path.Combine(data, "applications"), Path.Combine(data, "icons", "hicolor"));
    }

    /// <summary>An existing entry is replaced or removed only when this installer wrote it (it has X-Xar-File).</summary>
    private static void CheckOurs(string entryPath, string action)
    {
        if (!File.Exists(entryPath) && new FileInfo(entryPath).LinkTarget is null)
            return;
        if (ReadEntry(entryPath)?.Get(FileKey) is null)
            throw new IOException($"{entryPath} exists and was not written by xar desktop install: not going to {action} it");
    }

    private static DesktopEntry? ReadEntry(string path)
    {
        try
        {
            var info = new FileInfo(path);
            if (info.LinkTarget is not null || info.Length > DesktopBundle.MaxBytes)
                return null;
            return DesktopEntry.Parse(File.ReadAllBytes(path));
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException or FormatException)
        {
            return null;
        }
    }

    /// <summary>Removes APP_ID.png and APP_ID.svg from every hicolor size's apps/ directory: an old version's icon of another size goes too.</summary>
    private static List<string> RemoveIcons(string hicolor, string appId)
    {
        var removed = new List<string>();
        if (!Directory.Exists(hicolor))
            return removed;
        foreach (string size in Directory.EnumerateDirectories(hicolor))
            foreach (string extension in new[] { ".png", ".svg" })
            {
                string path = Path.Combine(size, "apps", appId + extension);
                if (File.Exists(path) || new FileInfo(path).LinkTarget is not null)
                {
                    File.Delete(path);
                    removed.Add(path);
                }
            }
        return removed;
    }

    /// <summary>
    /// update-desktop-database and gtk-update-icon-cache where they are installed, each only for a cache that exists or
    /// is needed (the MIME cache when the entry lists MimeType=; without an icon cache the theme directory is read as
    /// it is), so a clean home gets no cache files of ours. A tool that fails is a warning: the entry and icon are in place.
    /// </summary>
    private static void RefreshCaches(string applications, string hicolor, bool handlesMimeTypes, Action<string> warn)
    {
        if (Directory.Exists(applications) && (handlesMimeTypes || File.Exists(Path.Combine(applications, "mimeinfo.cache"))))
            RunTool("update-desktop-database", ["-q", applications], warn);
        if (Directory.Exists(hicolor))
        {
            if (File.Exists(Path.Combine(hicolor, "icon-theme.cache")))
                RunTool("gtk-update-icon-cache", ["-q", "-t", "-f", hicolor], warn);
            // Icon themes notice a change by the theme directory's time.
            Directory.SetLastWriteTimeUtc(hicolor, DateTime.UtcNow);
        }
    }

    private static string? FindOnPath(string tool) =>
        (Environment.GetEnvironmentVariable("PATH") ?? "").Split(':', StringSplitOptions.RemoveEmptyEntries)
            .Select(d => Path.Combine(d, tool)).FirstOrDefault(File.Exists);

    private static void RunTool(string tool, string[] arguments, Action<string> warn)
    {
        if (FindOnPath(tool) is not { } path)
            return;
        var start = new ProcessStartInfo(path) { RedirectStandardError = true, RedirectStandardOutput = true, RedirectStandardInput = true, UseShellExecute = false };
        foreach (string a in arguments)
            start.ArgumentList.Add(a);
        try
        {
            using var process = Process.Start(start)!;
            process.StandardInput.Close();
            var output = process.StandardOutput.ReadToEndAsync();
            string error = process.StandardError.ReadToEnd();
            process.WaitForExit();
            _ = output.Result;
            if (process.ExitCode != 0)
                warn($"{tool} exited with status {process.ExitCode}: {error.Trim().Split('\n')[0]}");
        }
        catch (System.ComponentModel.Win32Exception e)
        {
            warn($"cannot run {path}: {e.Message}");
        }
    }
}
