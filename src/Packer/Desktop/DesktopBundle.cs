using System.Globalization;
using Microsoft.Win32.SafeHandles;
using Xar.Packer.Cli;
using Xar.Posix;
using Xar.SquashFs;

namespace Xar.Packer.Desktop;

/// <summary>
/// What makes a packed tree a desktop bundle, laid out as an AppDir has it: one <c>NAME.desktop</c> at the
/// image root, the icon its Icon= key names beside it (<c>ICON.png</c> or <c>ICON.svg</c>, else <c>.DirIcon</c>),
/// and <c>AppRun</c>, the entrypoint when --exec is not given. Found in SOURCE_DIR's root, or added from
/// elsewhere (--desktop-file, --icon) as files of the image root that are not copied into the tree.
/// </summary>
public sealed class DesktopBundle
{
    public const string AppRun = "AppRun";
    public const string DirIcon = ".DirIcon";
    public const string Extension = ".desktop";

    /// <summary>Files the image gets at its root beside the tree's (--desktop-file, --icon).</summary>
    public IReadOnlyList<SquashFsExtraFile> ExtraRootFiles { get; private init; } = [];

    /// <summary>SOURCE_DIR's root holds an AppRun (executable), and it was looked for: the entrypoint, as --exec was not given.</summary>
    public bool HasAppRun { get; private init; }

    /// <summary>Remarks for the user that do not stop the pack (the validator's warnings, an icon that is not there).</summary>
    public IReadOnlyList<string> Warnings { get; private init; } = [];

    /// <summary>
    /// Finds and checks the bundle's parts. <paramref name="isExcluded"/> tells a root name --exclude leaves out.
    /// </summary>
    /// <exception cref="UsageException">A desktop file the validator rejects, two of them, an icon that is not a PNG
    /// or SVG, a name that clashes, a non-executable AppRun: bad input, with the file concerned.</exception>
    /// <param name="lookForAppRun">No entrypoint was given: an AppRun at the root is to be the entrypoint.</param>
    public static DesktopBundle Prepare(string sourceDirectory, string? desktopFileOption, string? iconOption, Func<string, bool> isExcluded, bool lookForAppRun)
    {
        var warnings = new List<string>();
        var extra = new List<SquashFsExtraFile>();
        using var root = new SourceRoot(sourceDirectory, isExcluded);
        string shownSource = LosslessUtf8.Display(sourceDirectory); // for messages
        string? desktopOptionShown = desktopFileOption is null ? null : LosslessUtf8.Display(desktopFileOption);
        string? iconOptionShown = iconOption is null ? null : LosslessUtf8.Display(iconOption);
        var regular = UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.GroupRead | UnixFileMode.OtherRead;

        // The desktop file: the tree's (one at most), or --desktop-file's.
        var inTree = root.Names().Where(n => n.EndsWith(Extension, StringComparison.Ordinal) && n.Length > Extension.Length).Order(StringComparer.Ordinal).ToList();
        string? desktopName = null;
        byte[]? desktopBytes = null;
        string? desktopShown = null;
        if (desktopFileOption is not null)
        {
            desktopName = Path.GetFileName(desktopFileOption);
            if (inTree.Count > 0)
                throw new UsageException($"--desktop-file: {shownSource} has {inTree[0]} at its root already (a bundle has one desktop file)", desktopOptionShown);
            if (!desktopName.EndsWith(Extension, StringComparison.Ordinal) || desktopName.Length == Extension.Length || LosslessUtf8.HasEscapes(desktopName))
                throw new UsageException("--desktop-file: the file name must be APP_ID.desktop (the menu entry's name)", desktopOptionShown);
            desktopBytes = GivenFile.Read(desktopFileOption, "--desktop-file", MaxBytes);
            desktopShown = desktopOptionShown;
            if (root.Exists(desktopName))
                throw new UsageException($"--desktop-file: {shownSource} already holds an entry named {desktopName}", desktopOptionShown);
            extra.Add(new SquashFsExtraFile(desktopName, desktopBytes, regular));
        }
        else if (inTree.Count > 1)
            throw new UsageException($"has {inTree.Count} desktop files at its root ({string.Join(", ", inTree)}); a bundle has one", shownSource);
        else if (inTree.Count == 1)
        {
            desktopName = inTree[0];
            desktopShown = Path.Join(shownSource, desktopName);
            desktopBytes = root.Read(desktopName);
        }

        string? iconName = null;
        if (desktopBytes is not null)
        {
            if (AppIdProblem(desktopName![..^Extension.Length]) is { } appIdProblem)
                throw new UsageException(desktopFileOption is null ? appIdProblem : "--desktop-file: " + appIdProblem, desktopShown);
            var validation = DesktopFileValidator.Validate(desktopName!, desktopBytes);
            if (validation.Error is not null)
                throw new UsageException(validation.Error, desktopShown);
            warnings.AddRange(validation.Warnings.Select(w => $"{desktopShown}: {w}"));
            DesktopEntry entry;
            try
            {
                entry = DesktopEntry.Parse(desktopBytes);
            }
            catch (FormatException e)
            {
                throw new UsageException(e.Message, desktopShown);
            }
            // desktop-file-validate lets some through (text stuck to a closing quote) that install could not rewrite.
            if (ExecProblem(entry) is { } execProblem)
                throw new UsageException(execProblem, desktopShown);
            iconName = entry.Get("Icon");
            if (iconName is { Length: 0 })
                iconName = null;
        }

        // The icon: --icon's (named after Icon=), else ICON.png, ICON.svg or .DirIcon in the tree.
        if (iconOption is not null)
        {
            if (desktopBytes is null)
                throw new UsageException("--icon needs a desktop file (at SOURCE_DIR's root, or --desktop-file) whose Icon= key names it", iconOptionShown);
            if (iconName is null)
                throw new UsageException($"--icon: {desktopShown} has no Icon= key to name the icon", iconOptionShown);
            if (iconName.Contains('/'))
                throw new UsageException($"--icon: {desktopShown} has Icon={iconName}, a path; a bundle's icon is named by its Icon= key (a name, no extension)", iconOptionShown);
            byte[] bytes = GivenFile.Read(iconOption, "--icon", MaxBytes);
            var icon = DesktopIcon.Identify(bytes) ?? throw new UsageException("--icon: neither a PNG nor an SVG image", iconOptionShown);
            string name = iconName + icon.Extension;
            if (root.Exists(name))
                throw new UsageException($"--icon: {shownSource} already holds an entry named {name}", iconOptionShown);
            if (!icon.IsThemeSize)
                warnings.Add($"{iconOptionShown}: a {icon.Width}x{icon.Height} PNG, a size the hicolor icon theme does not list ({string.Join(", ", DesktopIcon.ThemeSizes)}): menus may not find it once installed");
            extra.Add(new SquashFsExtraFile(name, bytes, regular));
        }
        else if (iconName is not null && !iconName.Contains('/'))
        {
            bool found = false;
            foreach (string name in new[] { iconName + ".png", iconName + ".svg", DirIcon })
            {
                if (!root.Exists(name))
                    continue;
                var icon = DesktopIcon.Identify(root.Read(name));
                if (icon is null || (name != DirIcon && icon.Extension != Path.GetExtension(name)))
                    throw new UsageException(name.EndsWith(".svg", StringComparison.Ordinal) ? "is not an SVG image" : name == DirIcon ? "is neither a PNG nor an SVG image" : "is not a PNG image", Path.Join(shownSource, name));
                if (!icon.IsThemeSize)
                    warnings.Add($"{Path.Join(shownSource, name)}: a {icon.Width}x{icon.Height} PNG, a size the hicolor icon theme does not list ({string.Join(", ", DesktopIcon.ThemeSizes)}): menus may not find it once installed");
                found = true;
            }
            if (!found)
                warnings.Add($"{desktopShown}: Icon={iconName}, but no {iconName}.png, {iconName}.svg or {DirIcon} at the image root (give one with --icon FILE): an installed entry shows the icon theme's {iconName}, if any");
        }
        else if (iconName is not null)
            warnings.Add($"{desktopShown}: Icon={iconName} is a path, not an icon name: the bundle carries no icon of its own, and an installed entry shows that file, if it exists where the entry is used");

        bool hasAppRun = false;
        if (lookForAppRun && root.Exists(AppRun))
        {
            if (!root.IsExecutableFile(AppRun))
                throw new UsageException("is the entrypoint when --exec is not given, but not an executable file (chmod +x)", Path.Join(shownSource, AppRun));
            hasAppRun = true;
        }
        return new DesktopBundle { ExtraRootFiles = extra, HasAppRun = hasAppRun, Warnings = warnings };
    }

    internal const int MaxBytes = 16 << 20;

    /// <summary>
    /// Why <paramref name="appId"/> (a desktop file's name without .desktop) cannot be a bundle's app id, or null: the one
    /// rule of pack and desktop install. It names the installed entry and icons, so it is a plain file name.
    /// </summary>
    public static string? AppIdProblem(string appId) =>
        appId.Length > 0 && !appId.StartsWith('.') && appId.All(c => char.IsAsciiLetterOrDigit(c) || c is '.' or '_' or '-')
            ? null
            : "the app id (the file name without .desktop) may hold only A-Za-z0-9 . _ - and not start with a dot";

    /// <summary>Why an Exec line of <paramref name="entry"/> is malformed (DesktopExec), or null.</summary>
    internal static string? ExecProblem(DesktopEntry entry)
    {
        foreach (string group in entry.Groups.Distinct())
            if (entry.Get("Exec", group) is { } exec && DesktopExec.Problem(exec) is { } problem)
                return $"Exec={exec} in group [{group}] {problem}";
        return null;
    }

    /// <summary>
    /// SOURCE_DIR's root as the image will have it: names --exclude leaves out are not there, and a symbolic link
    /// is followed only to a file inside the tree (as it resolves inside the image), never outside it. Everything
    /// goes through the directory's descriptor (and the files' /proc/self/fd paths, read as bytes), so what is
    /// checked is what is read, whatever bytes the names hold.
    /// </summary>
    private sealed unsafe class SourceRoot : IDisposable
    {
        private readonly string _shown;
        private readonly Func<string, bool> _isExcluded;
        private readonly SafeFileHandle _directory;
        private readonly string _real;

        public SourceRoot(string directory, Func<string, bool> isExcluded)
        {
            _shown = directory;
            _isExcluded = isExcluded;
            int fd = LibC.Open(directory, LibC.O_PATH | LibC.O_DIRECTORY | LibC.O_CLOEXEC, 0);
            if (fd < 0)
                throw new UsageException("cannot open: " + LibC.Describe(LibC.LastError), LosslessUtf8.Display(directory));
            _directory = new SafeFileHandle(fd, ownsHandle: true);
            _real = RealPath(fd);
        }

        private int Fd => (int)_directory.DangerousGetHandle();

        public IEnumerable<string> Names() =>
            new DirectoryInfo(ProcPath(Fd)).EnumerateFileSystemInfos().Select(i => i.Name).Where(n => !_isExcluded(n));

        /// <summary>An entry of that name, a dangling link included (lstat through the directory).</summary>
        public bool Exists(string name)
        {
            if (_isExcluded(name))
                return false;
            fixed (byte* n = NativePath.ToCString(name))
            {
                LibC.Statx st;
                return LibC.StatxAt(Fd, n, LibC.AT_SYMLINK_NOFOLLOW, LibC.STATX_BASIC_STATS, &st) == 0;
            }
        }

        public bool IsExecutableFile(string name)
        {
            using var handle = Open(name, out var status);
            return handle is not null && status.IsRegularFile && (status.Mode & 0x49) != 0; // any x bit
        }

        public byte[] Read(string name)
        {
            string shown = LosslessUtf8.Display(Path.Join(_shown, name));
            using var handle = Open(name, out var status) ?? throw new UsageException("is a symbolic link to nothing inside SOURCE_DIR (the image would hold a dangling link)", shown);
            if (!status.IsRegularFile)
                throw new UsageException("is not a regular file", shown);
            if (status.Size > MaxBytes)
                throw new UsageException($"is larger than {MaxBytes >> 20} MiB", shown);
            return GivenFile.ReadAll(handle, status.Size);
        }

        /// <summary>The file <paramref name="name"/> leads to, opened, when it is inside the tree; null otherwise.</summary>
        private SafeFileHandle? Open(string name, out LibC.Statx status)
        {
            status = default;
            int fd;
            fixed (byte* n = NativePath.ToCString(name))
                fd = LibC.OpenAt(Fd, n, LibC.O_RDONLY | LibC.O_NONBLOCK | LibC.O_CLOEXEC, 0);
            if (fd < 0)
                return null;
            var handle = new SafeFileHandle(fd, ownsHandle: true);
            if (LibC.FStatx(fd, out status) != 0 || !RealPath(fd).StartsWith(_real.TrimEnd('/') + "/", StringComparison.Ordinal))
            {
                handle.Dispose();
                return null;
            }
            return handle;
        }

        public void Dispose() => _directory.Dispose();

        private static string ProcPath(int fd) => "/proc/self/fd/" + fd.ToString(CultureInfo.InvariantCulture);

        /// <summary>Where the kernel says the descriptor's file is, as a lossless string (<see cref="LosslessUtf8"/>).</summary>
        private static string RealPath(int fd) =>
            LosslessUtf8.Decode(NativePath.OfDescriptor(fd) ?? throw new IOException("cannot read /proc/self/fd (is /proc mounted?)"));
    }
}
