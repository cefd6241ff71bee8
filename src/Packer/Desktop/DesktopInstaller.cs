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

    /// <summary>
    /// Deprecated keys that carry a command line beside Exec, which install rewrites and checks: TerminalOptions (words
    /// KDE adds to the terminal's command line, for Terminal=true) and SwallowExec (a program KDE 1 ran and swallowed).
    /// A bundle's entry has no say there. Install leaves them out.
    /// </summary>
    public static readonly IReadOnlyList<(string Key, string Why)> DroppedKeys =
    [
        ("TerminalOptions", "a deprecated key whose words go into the terminal's command line, not to the program"),
        ("SwallowExec", "a deprecated key naming another program to run"),
    ];

    /// <summary>What install wrote: the entry and the icons.</summary>
    public sealed record class Installed(string AppId, string EntryPath, IReadOnlyList<string> IconPaths);

    /// <summary>The bundle's desktop entry and icons as the image holds them.</summary>
    private sealed record class Bundle(string AppId, DesktopEntry Entry, bool IsPlainXar, IReadOnlyList<(DesktopIcon Icon, byte[] Bytes)> Icons);

    public static Installed Install(string file, Action<string> warn)
    {
        file = CheckPath(file);
        // The specification writes a literal % as %%, but GLib looks the program up before undoing that, and so
        // never finds it: GNOME's menus (and gio launch) cannot start such an entry.
        if (file.Contains('%'))
            throw new UsageException("the path holds a %, with which GLib-based menus cannot start a menu entry's program (move or rename the file)", file);
        // The specification allows no = in an Exec line's program, and pack's own check refuses one.
        if (file.Contains('='))
            throw new UsageException("the path holds an =, which the desktop entry specification does not allow in an Exec line's program (move or rename the file)", file);
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

        foreach (var (key, why) in DroppedKeys)
            if (entry.RemoveAll(key) > 0)
                warn($"{bundle.AppId}{DesktopBundle.Extension}: {key}= left out of the menu entry: {why}");
        string entryName = bundle.AppId + DesktopBundle.Extension;
        var fileMode = (uint)(UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.GroupRead | UnixFileMode.OtherRead);
        try
        {
            // First without making or changing anything: a link where a directory is expected, an entry not ours or one
            // of the system's is refused before any file is written.
            using (var existing = Menu.Open(create: false))
            {
                if (existing.Applications is { } applications)
                    CheckOurs(applications, entryName, "replace");
                if (ShadowedEntry(bundle.AppId, existing) is { } shadowed)
                    throw new IOException($"{shadowed} has the desktop file ID {entryName}: an entry installed for this user would take its place in every menu; not installing (pack the bundle with another app id)");
                if (existing.Hicolor is { } hicolor)
                {
                    RemoveIcons(hicolor, bundle.AppId, dryRun: true);
                    foreach (var (icon, _) in bundle.Icons)
                        Walk(hicolor, create: false, icon.ThemeDirectory, "apps")?.Dispose();
                }
            }
            using var menu = Menu.Open(create: true, withIcons: bundle.Icons.Count > 0);
            CheckOurs(menu.Applications!, entryName, "replace");
            if (menu.Hicolor is { } theme)
                RemoveIcons(theme, bundle.AppId, dryRun: false);
            var iconPaths = new List<string>();
            foreach (var (icon, bytes) in bundle.Icons)
            {
                using var apps = Walk(menu.Hicolor!, create: true, icon.ThemeDirectory, "apps")!;
                string name = bundle.AppId + icon.Extension;
                apps.WriteFile(name, fileMode, bytes);
                string path = Path.Join(apps.Path, name);
                iconPaths.Add(path);
                if (!icon.IsThemeSize)
                    warn($"{path}: a {icon.Width}x{icon.Height} PNG, a size the hicolor icon theme does not list: menus may not show it");
            }
            menu.Applications!.WriteFile(entryName, fileMode, entry.ToBytes());
            RefreshCaches(menu, entry.Get("MimeType") is { Length: > 0 }, warn);
            return new Installed(bundle.AppId, Path.Join(menu.Applications.Path, entryName), iconPaths);
        }
        catch (NotADirectoryException e)
        {
            throw new UsageException(e.Message + " (xar desktop works only in real directories of the menu's folders)", file);
        }
    }

    /// <summary>
    /// Removes the entry and icons of FILE's app id. When FILE is gone, the entries that start it (their
    /// X-Xar-File) are removed. Returns what was removed (empty: nothing was installed).
    /// </summary>
    public static IReadOnlyList<string> Uninstall(string file, Action<string> warn)
    {
        file = CheckPath(file);
        try
        {
            using var menu = Menu.Open(create: false);
            var ids = new List<string>();
            if (Path.Exists(file) || new FileInfo(file).LinkTarget is not null)
            {
                using var handle = OpenFile(file, out _);
                ids.Add(ReadBundle(handle, file, forInstall: false).AppId);
            }
            else
            {
                // The file is gone (deleted before its entry): the entries that name it say which app it was.
                if (menu.Applications is { } applications)
                    foreach (var (name, _) in applications.Entries())
                        if (name.EndsWith(DesktopBundle.Extension, StringComparison.Ordinal) && ReadEntry(applications, name)?.Get(FileKey) == file)
                            ids.Add(name[..^DesktopBundle.Extension.Length]);
                if (ids.Count == 0)
                    throw new UsageException($"no such file, and no menu entry in {menu.ApplicationsPath} starts it", file);
            }
            var removed = new List<string>();
            if (menu.Applications is not { } apps)
                return removed;
            foreach (string id in ids)
            {
                string entryName = id + DesktopBundle.Extension;
                if (apps.Kind(entryName) == 0)
                    continue;
                CheckOurs(apps, entryName, "remove");
                if (menu.Hicolor is { } hicolor)
                    RemoveIcons(hicolor, id, dryRun: true);
                apps.Delete(entryName);
                removed.Add(Path.Join(apps.Path, entryName));
                if (menu.Hicolor is { } icons)
                    removed.AddRange(RemoveIcons(icons, id, dryRun: false));
            }
            if (removed.Count > 0)
                RefreshCaches(menu, handlesMimeTypes: false, warn);
            return removed;
        }
        catch (NotADirectoryException e)
        {
            throw new UsageException(e.Message + " (xar desktop works only in real directories of the menu's folders)", file);
        }
    }

    /// <summary>The menu entry runs FILE from anywhere: an absolute path, one a desktop entry can hold.</summary>
    /// <summary>FILE as the menu entry runs it: absolute (a relative FILE is taken from the current directory).</summary>
    private static string CheckPath(string file)
    {
        if (file.Any(char.IsControl))
            throw new UsageException("the path holds a control character, which a menu entry's Exec line cannot hold", file.ReplaceLineEndings(" "));
        return Path.GetFullPath(file);
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
        if (DesktopBundle.AppIdProblem(appId) is { } problem)
            throw new UsageException($"{name}: {problem}", file);
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

    /// <summary>
    /// The menu's folders of this user: <c>applications/</c> and <c>icons/hicolor/</c> in $XDG_DATA_HOME (when absolute,
    /// as the base directory specification says) or ~/.local/share. The data directory is opened as named (links
    /// followed: it is where the user keeps their data); from HOME on, and below the data directory, every folder
    /// is opened through its parent's descriptor without following a link, so a link planted there (by another
    /// user, when root installs with their HOME) is refused rather than written through.
    /// </summary>
    private sealed class Menu : IDisposable
    {
        private Menu(string applicationsPath, DirectoryHandle? applications, DirectoryHandle? hicolor)
        {
            ApplicationsPath = applicationsPath;
            Applications = applications;
            Hicolor = hicolor;
        }

        /// <summary>applications/ (for messages, whether it exists or not).</summary>
        public string ApplicationsPath { get; }

        /// <summary>applications/, or null when it does not exist (opened without <c>create</c>).</summary>
        public DirectoryHandle? Applications { get; }

        /// <summary>icons/hicolor/, or null when it does not exist (opened without <c>create</c>).</summary>
        public DirectoryHandle? Hicolor { get; }

        /// <summary>The folders, made where missing when <paramref name="create"/> (icons/hicolor/ only <paramref name="withIcons"/>).</summary>
        /// <exception cref="NotADirectoryException">A link or another file where a folder is expected.</exception>
        public static Menu Open(bool create, bool withIcons = false)
        {
            using var data = OpenData(create, out string dataPath);
            string applicationsPath = Path.Join(dataPath, "applications");
            if (data is null)
                return new Menu(applicationsPath, null, null);
            var applications = Walk(data, create, "applications");
            try
            {
                return new Menu(applicationsPath, applications, Walk(data, create && withIcons, "icons", "hicolor"));
            }
            catch
            {
                applications?.Dispose();
                throw;
            }
        }

        private static DirectoryHandle? OpenData(bool create, out string path)
        {
            string? data = Environment.GetEnvironmentVariable("XDG_DATA_HOME");
            if (data is not null && data.StartsWith('/'))
            {
                path = data;
                if (create)
                    NativePath.CreateDirectories(data, 0b111_101_101);
                var dataDirectory = DirectoryHandle.Open(data);
                if (dataDirectory is not null && OwnerProblem(dataDirectory) is { } problem)
                {
                    dataDirectory.Dispose();
                    throw new UsageException(problem);
                }
                return dataDirectory;
            }
            string? home = Environment.GetEnvironmentVariable("HOME");
            if (home is null || !home.StartsWith('/'))
                throw new UsageException("neither XDG_DATA_HOME nor HOME is an absolute path: nowhere to install a menu entry");
            path = Path.Join(home, ".local", "share");
            using var homeDirectory = DirectoryHandle.Open(home);
            if (homeDirectory is null)
                return create ? throw new UsageException($"HOME ({home}) does not exist: nowhere to install a menu entry") : null;
            if (OwnerProblem(homeDirectory) is { } notOurs)
                throw new UsageException(notOurs);
            return Walk(homeDirectory, create, ".local", "share");
        }

        /// <summary>
        /// Root with another user's HOME (su, sudo -E) would leave that user files and folders of root's in their menu
        /// folders, which their own installs then cannot replace: refused.
        /// </summary>
        private static string? OwnerProblem(DirectoryHandle directory) =>
            LibC.GetEuid() == 0 && LibC.FStatx(directory.Fd, out var status) == 0 && status.Uid != 0
                ? $"{directory.Path} belongs to uid {status.Uid}, and xar desktop runs as root: the menu files would be root's, not that user's (run it as the user whose menu it is)"
                : null;

        public void Dispose()
        {
            Applications?.Dispose();
            Hicolor?.Dispose();
        }
    }

    /// <summary>The folder <paramref name="names"/> below <paramref name="from"/>, no link followed; null when one is missing and not <paramref name="create"/>.</summary>
    private static DirectoryHandle? Walk(DirectoryHandle from, bool create, params string[] names)
    {
        DirectoryHandle? current = null;
        try
        {
            foreach (string name in names)
            {
                var next = (current ?? from).OpenChild(name, create);
                current?.Dispose();
                current = next;
                if (current is null)
                    return null;
            }
            return current;
        }
        catch
        {
            current?.Dispose();
            throw;
        }
    }

    /// <summary>An existing entry is replaced or removed only when this installer wrote it (it has X-Xar-File).</summary>
    private static void CheckOurs(DirectoryHandle applications, string name, string action)
    {
        uint kind = applications.Kind(name);
        if (kind == 0)
            return;
        string path = Path.Join(applications.Path, name);
        if (kind == LibC.S_IFLNK)
            throw new IOException($"{path} is a symbolic link, not an entry xar desktop install wrote: not going to {action} it");
        if (ReadEntry(applications, name)?.Get(FileKey) is null)
            throw new IOException($"{path} exists and was not written by xar desktop install: not going to {action} it");
    }

    private static DesktopEntry? ReadEntry(DirectoryHandle applications, string name)
    {
        try
        {
            return applications.ReadFile(name, DesktopBundle.MaxBytes) is { } bytes ? DesktopEntry.Parse(bytes) : null;
        }
        catch (FormatException)
        {
            return null;
        }
    }

    /// <summary>
    /// Another desktop file with the desktop file ID APP_ID.desktop, which an entry of this user's would hide in every
    /// menu: in applications/ of $XDG_DATA_DIRS (default /usr/local/share:/usr/share), APP_ID.desktop or, as each - of
    /// the ID may stand for a / (foo-bar: foo/bar.desktop), one in a subfolder; in this user's applications/, one in a
    /// subfolder (APP_ID.desktop itself is <see cref="CheckOurs"/>'s). Its path, or null.
    /// </summary>
    private static string? ShadowedEntry(string appId, Menu menu)
    {
        string? variable = Environment.GetEnvironmentVariable("XDG_DATA_DIRS");
        string dataDirectories = string.IsNullOrEmpty(variable) ? "/usr/local/share:/usr/share" : variable;
        foreach (string directory in dataDirectories.Split(':').Where(d => d.StartsWith('/')))
        {
            string applications = Path.Join(directory, "applications");
            // $XDG_DATA_DIRS may list this user's own data directory: its entries are not the system's.
            if (menu.Applications is { } mine && LibC.StatxAt(LibC.AT_FDCWD, applications, 0, LibC.STATX_BASIC_STATS, out var other) == 0
                && LibC.FStatx(mine.Fd, out var own) == 0 && (other.DevMajor, other.DevMinor, other.Ino) == (own.DevMajor, own.DevMinor, own.Ino))
                continue;
            if (FindDesktopId(applications, appId, withTopLevel: true) is { } found)
                return found;
        }
        return menu.Applications is null ? null : FindDesktopId(menu.ApplicationsPath, appId, withTopLevel: false);
    }

    /// <summary>A file in <paramref name="directory"/> or its subfolders whose desktop file ID is <paramref name="id"/>.desktop (only looked at, so links are followed as menus follow them).</summary>
    private static string? FindDesktopId(string directory, string id, bool withTopLevel)
    {
        string file = Path.Join(directory, id + DesktopBundle.Extension);
        if (withTopLevel && (File.Exists(file) || new FileInfo(file).LinkTarget is not null))
            return file;
        for (int dash = id.IndexOf('-'); dash > 0; dash = id.IndexOf('-', dash + 1))
        {
            string subfolder = Path.Join(directory, id[..dash]);
            if (Directory.Exists(subfolder) && FindDesktopId(subfolder, id[(dash + 1)..], withTopLevel: true) is { } found)
                return found;
        }
        return null;
    }

    /// <summary>
    /// Removes APP_ID.png and APP_ID.svg from every hicolor size's apps/ folder (an old version's icon of another size
    /// goes too), each by its name in the folder's descriptor. <paramref name="dryRun"/>: only checks that every size
    /// and apps/ is a real folder. A link in their place is refused, never followed.
    /// </summary>
    private static List<string> RemoveIcons(DirectoryHandle hicolor, string appId, bool dryRun)
    {
        var removed = new List<string>();
        foreach (var (size, type) in hicolor.Entries())
        {
            // Files of the theme itself (index.theme, icon-theme.cache, or links to such files) hold no icons; a link
            // to a folder is refused by the walk.
            uint kind = type == LibC.DT_DIR ? LibC.S_IFDIR : type == LibC.DT_LNK ? LibC.S_IFLNK : hicolor.Kind(size);
            if (kind != LibC.S_IFDIR && !(kind == LibC.S_IFLNK && Directory.Exists(Path.Join(hicolor.Path, size))))
                continue;
            using var apps = Walk(hicolor, create: false, size, "apps");
            if (apps is null || dryRun)
                continue;
            foreach (string extension in new[] { ".png", ".svg" })
                if (apps.Delete(appId + extension))
                    removed.Add(Path.Join(apps.Path, appId + extension));
        }
        return removed;
    }

    /// <summary>
    /// update-desktop-database and gtk-update-icon-cache where they are installed, each only for a cache that exists or
    /// is needed (the MIME cache when the entry lists MimeType=; without an icon cache the theme directory is read as
    /// it is), so a clean home gets no cache files of ours. A tool that fails is a warning: the entry and icon are in place.
    /// </summary>
    private static void RefreshCaches(Menu menu, bool handlesMimeTypes, Action<string> warn)
    {
        if (menu.Applications is { } applications && (handlesMimeTypes || applications.Kind("mimeinfo.cache") == LibC.S_IFREG))
            RunTool("update-desktop-database", ["-q", applications.Path], warn);
        if (menu.Hicolor is { } hicolor)
        {
            if (hicolor.Kind("icon-theme.cache") == LibC.S_IFREG)
                RunTool("gtk-update-icon-cache", ["-q", "-t", "-f", hicolor.Path], warn);
            // Icon themes notice a change by the theme directory's time.
            hicolor.Touch();
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
