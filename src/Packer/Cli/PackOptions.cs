using Microsoft.Win32.SafeHandles;
using System.CommandLine;
using System.Globalization;
using Xar.Packer.Desktop;
using Xar.Posix;
using Xar.Runtime;
using Xar.Runtime.Launching;
using Xar.SquashFs;
using Xar.SquashFs.Compression;
using Xar.SquashFs.Format;
using Xar.SquashFs.Writing;

namespace Xar.Packer.Cli;

/// <summary>
/// The options of every command that writes an archive (<c>xar pack</c> and the front-ends): OUT, how the
/// image is built, --self-contained, progress. One definition, so a front-end takes every pack option with
/// the same meaning, checks and messages; <see cref="Pack"/> is the one place an archive is written from them.
/// </summary>
public sealed class PackOptions
{
    public Option<string> Output { get; } = new("--output", "-o") { HelpName = "OUT", Description = "File to write (replaced only when packing succeeds), or - for standard output", Required = true };
    public Option<string> Compression { get; } = new("--compression", "-c") { Description = "zstd (default), gzip, xz, lz4 or none", DefaultValueFactory = _ => "zstd" };
    public Option<int?> Level { get; } = new("--level") { HelpName = "N", Description = "Compression level: zstd 1-22 (15), gzip 1-9 (9), xz 0-9 (6), lz4 1-12 (high-compression mode)" };
    public Option<string> BlockSize { get; } = new("--block-size", "-b") { HelpName = "SIZE", Description = "Data block size, a power of two from 4K to 1M (128K)", DefaultValueFactory = _ => "128K" };
    public Option<bool> NoFragments { get; } = new("--no-fragments") { Description = "Store file tails as short blocks instead of packing them together" };
    public Option<bool> NoDedup { get; } = new("--no-dedup") { Description = "Store files with equal content separately" };
    public Option<bool> NoXattrs { get; } = new("--no-xattrs") { Description = "Leave extended attributes out" };
    public Option<bool> AllRoot { get; } = new("--all-root") { Description = "Every entry owned by root (uid 0, gid 0)" };
    public Option<uint?> Uid { get; } = new("--uid") { HelpName = "N", Description = "Every entry owned by this uid", CustomParser = r => ParseUInt32(r, "--uid", "a uid") };
    public Option<uint?> Gid { get; } = new("--gid") { HelpName = "N", Description = "Every entry gets this gid", CustomParser = r => ParseUInt32(r, "--gid", "a gid") };
    public Option<uint?> Mtime { get; } = new("--mtime") { HelpName = "EPOCH", Description = "Every entry gets this modification time (seconds since 1970)", CustomParser = r => ParseUInt32(r, "--mtime", "seconds since 1970") };
    public Option<string?> Sort { get; } = new("--sort") { HelpName = "FILE", Description = "mksquashfs sort file: lines \"PATH PRIORITY\" (-32768..32767, higher stored first)" };
    public Option<string[]> Exclude { get; } = new("--exclude") { HelpName = "GLOB", Description = "Leave out entries matching GLOB (repeatable; without '/' it matches names at any depth)", AllowMultipleArgumentsPerToken = false };
    public Option<int?> Jobs { get; } = new("--jobs", "-j") { HelpName = "N", Description = "Compression threads (default: all cores)" };
    public Option<bool> Quiet { get; } = new("--quiet", "-q") { Description = "No progress bar, summary line or warnings (errors only)" };
    public Option<bool> SelfContained { get; } = new("--self-contained") { Description = "One executable that needs no xar installed: the runtime (xarexec) with the XAR appended (xar format)" };
    public Option<string?> Runtime { get; } = new("--runtime") { HelpName = "FILE", Description = "The runtime for --self-contained (default: the xarexec installed with this xar)" };
    public Option<string?> DesktopFile { get; } = new("--desktop-file") { HelpName = "FILE", Description = "APP_ID.desktop menu entry to put at the image root, as an AppDir has it (refused when desktop-file-validate would reject it); a *.desktop at SOURCE_DIR's root is used without this (xar format)" };
    public Option<string?> Icon { get; } = new("--icon") { HelpName = "FILE", Description = "PNG or SVG icon to put at the image root, named after the desktop file's Icon= key; without this, ICON.png, ICON.svg or .DirIcon at SOURCE_DIR's root is used (xar format)" };

    public PackOptions()
    {
        Compression.AcceptOnlyFromAmong("zstd", "gzip", "xz", "lz4", "none");
    }

    /// <summary>Every option, in the order --help lists them.</summary>
    public IEnumerable<Option> All =>
    [
        Output, Compression, Level, BlockSize, NoFragments, NoDedup, NoXattrs, AllRoot, Uid, Gid, Mtime, Sort, Exclude, Jobs, Quiet, SelfContained, Runtime, DesktopFile, Icon,
    ];

    public void AddTo(Command command)
    {
        foreach (var option in All)
            command.Options.Add(option);
    }

    /// <summary>
    /// The checks on the options alone, and on OUT, that need nothing packed yet: a front-end calls this
    /// before its long work (pip, dotnet publish), so a mistake costs nothing. <see cref="Pack"/> repeats them.
    /// </summary>
    public void Check(ParseResult parse, bool isXar = true)
    {
        if (parse.GetValue(SelfContained) && !isXar)
            throw new UsageException("--self-contained needs --format xar (a bare image has no runtime to start it)");
        if (parse.GetValue(Runtime) is not null && !parse.GetValue(SelfContained))
            throw new UsageException("--runtime needs --self-contained");
        if (!isXar && parse.GetValue(DesktopFile) is not null)
            throw new UsageException("--desktop-file needs --format xar (a bare image cannot be started from a menu)");
        if (!isXar && parse.GetValue(Icon) is not null)
            throw new UsageException("--icon needs --format xar (a bare image cannot be started from a menu)");
        foreach (var (option, name) in new[] { (DesktopFile, "--desktop-file"), (Icon, "--icon") })
            if (RawOptionValues.Path(option, parse.GetValue(option)) is { } given && PosixPath.TryStat(given) is var found and not { IsDirectory: false })
                throw new UsageException(found is not null ? $"{name}: is a directory" : $"{name}: no such file", LosslessUtf8.Display(given));
        if (parse.GetValue(AllRoot) && (parse.GetValue(Uid) is not null || parse.GetValue(Gid) is not null))
            throw new UsageException("--all-root and --uid/--gid exclude each other");
        ParseBlockSize(parse.GetValue(BlockSize)!);
        MakeCompression(parse.GetValue(Compression)!, parse.GetValue(Level));
        if (parse.GetValue(Jobs) is int jobCount and (< 1 or > 1024))
            throw new UsageException($"--jobs must be 1..1024, not {jobCount}");
        // OUT by its bytes, as SOURCE_DIR (a name need not be UTF-8; LosslessUtf8).
        string outFile = RawOptionValues.Path(Output, parse.GetValue(Output)!);
        if (outFile == "-")
        {
            if (!Console.IsOutputRedirected)
                throw new UsageException("standard output is a terminal; redirect it or give a file to -o");
            return;
        }
        if (PosixPath.TryStat(outFile) is { IsDirectory: true })
            throw new UsageException("is a directory (give the file to write)", LosslessUtf8.Display(outFile));
        string? outDirectory = Path.GetDirectoryName(NativePath.FullPath(outFile));
        if (outDirectory is not null && PosixPath.TryStat(outDirectory) is not { IsDirectory: true })
            throw new UsageException("no such directory: " + LosslessUtf8.Display(outDirectory), LosslessUtf8.Display(outFile));
    }

    /// <summary>
    /// Packs <paramref name="sourceDirectory"/> into OUT with these options: a XAR built as <paramref name="xar"/>
    /// says (its Image and Runtime come from the options), or a bare SquashFS image when it is null. OUT is
    /// replaced only when packing succeeds; errors are one line and the DESIGN exit status.
    /// </summary>
    public int Pack(ParseResult parse, string sourceDirectory, XarWriterOptions? xar)
    {
        bool isXar = xar is not null;
        Check(parse, isXar);
        // OUT by its bytes, as SOURCE_DIR (a name need not be UTF-8; LosslessUtf8).
        string outFile = RawOptionValues.Path(Output, parse.GetValue(Output)!);
        int block = ParseBlockSize(parse.GetValue(BlockSize)!);
        var codec = MakeCompression(parse.GetValue(Compression)!, parse.GetValue(Level));
        string? sortFile = RawOptionValues.Path(Sort, parse.GetValue(Sort));
        byte[]? runtimeBytes = parse.GetValue(SelfContained) ? ReadRuntime(RawOptionValues.Path(Runtime, parse.GetValue(Runtime))) : null;
        // "-o -": pack into a temporary file, then copy it to stdout (the writer seeks back to
        // finish the superblock, and a failed pack must not leave half an image in a pipe).
        bool toStdout = outFile == "-";
        if (toStdout)
            outFile = Path.Combine(Path.GetTempPath(), $"xar-pack-{Environment.ProcessId}-{Guid.NewGuid():N}.out");
        else
            CheckOutputIsNotInSource(sourceDirectory, outFile);
        // Off a terminal there is no bar, but the summary line still ends the run (unless --quiet).
        bool beQuiet = parse.GetValue(Quiet);
        using var progress = beQuiet ? null : new ProgressBar(draw: !Console.IsErrorRedirected);
        var imageOptions = new SquashFsWriterOptions
        {
            BlockSize = block,
            Compression = codec,
            NoFragments = parse.GetValue(NoFragments),
            NoDeduplication = parse.GetValue(NoDedup),
            NoXattrs = parse.GetValue(NoXattrs),
            Uid = parse.GetValue(AllRoot) ? 0 : parse.GetValue(Uid),
            Gid = parse.GetValue(AllRoot) ? 0 : parse.GetValue(Gid),
            FixedModificationTime = parse.GetValue(Mtime),
            Jobs = parse.GetValue(Jobs) ?? Environment.ProcessorCount,
            SortPriorities = sortFile is null ? null : SortFile.Read(sortFile, sourceDirectory),
            Excludes = RawOptionValues.Paths(parse, Exclude), // matched on the names' bytes
            Progress = progress is null ? null : progress.Report,
            Warning = beQuiet ? null : message => { progress?.Clear(); Console.Error.WriteLine($"xar: warning: {message}"); },
        };
        if (xar is not null)
        {
            // A desktop bundle (README, "Desktop bundles"): checked before any work, its files added to the image root.
            var bundle = DesktopBundle.Prepare(sourceDirectory, RawOptionValues.Path(DesktopFile, parse.GetValue(DesktopFile)), RawOptionValues.Path(Icon, parse.GetValue(Icon)), name => imageOptions.IsExcluded(name, out _), lookForAppRun: xar.ExecPath is null);
            foreach (string warning in bundle.Warnings)
                imageOptions.Warning?.Invoke(warning);
            imageOptions = imageOptions with { ExtraRootFiles = [.. imageOptions.ExtraRootFiles ?? [], .. bundle.ExtraRootFiles] };
            if (xar.ExecPath is null && bundle.HasAppRun)
                xar = xar with { ExecPath = DesktopBundle.AppRun };
        }
        using var interruption = new Interruption();
        string displayOut = toStdout ? "standard output" : LosslessUtf8.Display(outFile);
        long packedSize = 0;
        try
        {
            if (xar is not null)
                XarFile.CreateFromDirectory(sourceDirectory, outFile, xar with { Image = imageOptions, Runtime = runtimeBytes }, interruption.Token);
            else
                SquashFsFile.CreateFromDirectory(sourceDirectory, outFile, imageOptions, interruption.Token);
            packedSize = LibC.StatxAt(LibC.AT_FDCWD, outFile, 0, LibC.STATX_BASIC_STATS, out var packed) == 0 ? (long)packed.Size : 0;
            if (toStdout)
            {
                using var packedFile = new FileStream(outFile, FileMode.Open, FileAccess.Read, FileShare.Read, 1 << 20);
                packedFile.CopyTo(StandardOutput.Stream, 1 << 20);
            }
        }
        catch (BrokenPipeException)
        {
            throw; // CliRunner: no message, exit by SIGPIPE (the finally below removes the temporary file first)
        }
        catch (SourceTreeException e)
        {
            progress?.Clear();
            return CliRunner.Fail(e.Path, e.Message, e.IsBadInput ? ExitCodes.BadInput : ExitCodes.Failure);
        }
        catch (ArgumentException e)
        {
            progress?.Clear();
            return CliRunner.Fail(null, e.Message, ExitCodes.BadInput);
        }
        catch (CompressorUnavailableException e)
        {
            progress?.Clear();
            return CliRunner.Fail(null, e.Message, ExitCodes.Failure);
        }
        catch (IOException e)
        {
            // Reading the tree reports SourceTreeException; anything else failed writing OUT. A message that names the
            // file itself (standard output; AtomicFile's, by the full path) is not prefixed with it a second time.
            progress?.Clear();
            bool named = e.Message.StartsWith(toStdout ? "standard output: " : LosslessUtf8.Display(NativePath.FullPath(outFile)) + ": ", StringComparison.Ordinal);
            return CliRunner.Fail(named ? null : displayOut, e.Message, ExitCodes.Failure);
        }
        catch (UnauthorizedAccessException e)
        {
            progress?.Clear();
            return CliRunner.Fail(displayOut, e.Message, ExitCodes.Failure);
        }
        finally
        {
            progress?.Clear();
            if (toStdout)
                File.Delete(outFile);
        }
        if (progress is not null)
        {
            // After success only, so that a failed pack prints its one error line and nothing else.
            if (xar is not null && xar.ExecPath is null)
                Console.Error.WriteLine($"xar: warning: no --exec: {displayOut} can be mounted and inspected (xar mount, ls, extract) but not run");
            Console.Error.WriteLine(progress.Summary(displayOut, packedSize, runtimeBytes is null ? 0 : ElfExtent.XarStart(runtimeBytes.Length)));
        }
        return ExitCodes.Success;
    }

    /// <summary>
    /// The runtime's ELF bytes: --runtime FILE, else the xarexec installed with this xar (beside it, or in its
    /// prefix's bin/). Never one found on PATH: a self-contained file must carry this build's launcher.
    /// </summary>
    private static byte[] ReadRuntime(string? runtimePath)
    {
        string? path = runtimePath ?? InstalledLauncher.Find(Environment.ProcessPath);
        if (path is null)
            throw new UsageException($"--self-contained: no xarexec installed with this xar (looked beside {Environment.ProcessPath} and in its prefix's bin/); give the runtime with --runtime FILE");
        string shown = LosslessUtf8.Display(path);
        var (handle, _) = GivenFile.Open(path, "--runtime", "is a directory, not an executable");
        using (handle)
        {
            try
            {
                return XarFile.ReadRuntime(handle, shown);
            }
            catch (ArgumentException e)
            {
                throw new UsageException("--runtime: " + e.Message, shown);
            }
        }
    }

    /// <summary>
    /// A front-end's check, before its long work, that no --exclude leaves out a file its entrypoint needs to start
    /// (<paramref name="needed"/>: paths in the image, '/'-separated). The archive's own check covers ExecPath only, and
    /// an image without python's boot module or node's entry file starts nothing. Exit 2, naming the pattern.
    /// </summary>
    public void CheckNotExcluded(ParseResult parse, IEnumerable<string> needed)
    {
        string[] patterns = RawOptionValues.Paths(parse, Exclude);
        if (patterns.Length == 0)
            return;
        foreach (string path in needed)
            foreach (string pattern in patterns)
                if (new SquashFsWriterOptions { Excludes = [pattern] }.IsExcluded(path, out string? excluded))
                    throw new UsageException($"--exclude {LosslessUtf8.Display(pattern)}: leaves out {LosslessUtf8.Display(excluded)}, which the app needs to start"
                        + (excluded == path ? "" : $" ({LosslessUtf8.Display(path)})"));
    }

    /// <summary>
    /// A front-end's check, before its long work, that OUT replaces none of its inputs (<see cref="CheckOutputIsNotInSource"/>):
    /// it packs a staging folder, so the check <see cref="Pack"/> makes on that folder cannot see the project's files.
    /// </summary>
    /// <param name="input">A folder the front-end reads (PROJECT_DIR), or a file (a requirements file, a wheel).</param>
    /// <param name="what">How messages name it ("PROJECT_DIR", "pip's input reqs.txt").</param>
    public void CheckOutputIsNotInput(ParseResult parse, string input, string what)
    {
        string outFile = RawOptionValues.Path(Output, parse.GetValue(Output)!);
        if (outFile != "-")
            CheckOutputIsNotInSource(input, outFile, what);
    }

    /// <summary>
    /// An OUT inside SOURCE_DIR that names an existing entry is refused: the rename at the end would
    /// replace a file of the tree, the entrypoint even (`-o SRC/run.sh --exec run.sh`), after packing it.
    /// A new OUT inside SOURCE_DIR is fine (the writer leaves it out of the image). "Inside" is decided
    /// by the directories themselves (device and inode, going up through ".."), whatever the spelling.
    /// A <paramref name="src"/> that is a file (a front-end's input) is refused as OUT itself: the same inode.
    /// </summary>
    /// <param name="what">How messages name <paramref name="src"/>.</param>
    public static unsafe void CheckOutputIsNotInSource(string src, string outFile, string what = "SOURCE_DIR")
    {
        // OUT not followed: the rename replaces a symbolic link named OUT, never what it points to.
        if (LibC.StatxAt(LibC.AT_FDCWD, outFile, LibC.AT_SYMLINK_NOFOLLOW, LibC.STATX_BASIC_STATS, out var output) != 0
            || LibC.StatxAt(LibC.AT_FDCWD, src, 0, LibC.STATX_BASIC_STATS, out var root) != 0)
            return;
        if ((root.Mode & 0xF000) != 0x4000)
        {
            if (output.IsSameFileAs(root))
                throw new UsageException($"is {what}: packing would replace a file it reads (write OUT elsewhere)", LosslessUtf8.Display(outFile));
            return;
        }
        string directory = Path.GetDirectoryName(outFile) is { Length: > 0 } d ? d : ".";
        int fd = LibC.Open(directory, LibC.O_PATH | LibC.O_DIRECTORY | LibC.O_CLOEXEC, 0);
        ReadOnlySpan<byte> parent = "..\0"u8;
        try
        {
            while (fd >= 0 && LibC.FStatx(fd, out var current) == 0)
            {
                if (current.IsSameFileAs(root))
                    throw new UsageException($"exists inside {what}: packing would replace a file it packs (write OUT outside {what}, or remove it first)", LosslessUtf8.Display(outFile));
                int up;
                fixed (byte* name = parent)
                    up = LibC.OpenAt(fd, name, LibC.O_PATH | LibC.O_DIRECTORY | LibC.O_CLOEXEC, 0);
                if (up >= 0 && LibC.FStatx(up, out var above) == 0 && above.IsSameFileAs(current))
                {
                    LibC.Close(up); // "/" is its own parent
                    break;
                }
                LibC.Close(fd);
                fd = up;
            }
        }
        finally
        {
            if (fd >= 0)
                LibC.Close(fd);
        }
    }

    /// <summary>"131072", "128K", "128k", "1M" → bytes; must be a power of two from 4K to 1M.</summary>
    public static int ParseBlockSize(string text)
    {
        string t = text.Trim();
        long multiplier = 1;
        if (t.Length > 0 && char.ToUpperInvariant(t[^1]) is 'K' or 'M')
        {
            multiplier = char.ToUpperInvariant(t[^1]) == 'K' ? 1024 : 1024 * 1024;
            t = t[..^1];
        }
        if (!long.TryParse(t, NumberStyles.None, CultureInfo.InvariantCulture, out long value) || value > int.MaxValue)
            throw new UsageException($"--block-size \"{text}\" is not a size (like 128K, 1M or 131072)");
        long bytes = value * multiplier;
        if (bytes < SquashFsConstants.MinBlockSize || bytes > SquashFsConstants.MaxBlockSize || (bytes & (bytes - 1)) != 0)
            throw new UsageException($"--block-size {text} must be a power of two from 4K to 1M");
        return (int)bytes;
    }

    public static CompressionOptions MakeCompression(string name, int? level)
    {
        if (name == "none")
        {
            if (level is not null)
                throw new UsageException("--level does not apply to --compression none");
            return new CompressionOptions { Algorithm = SquashFsCompression.Gzip, Uncompressed = true };
        }
        var algorithm = name switch
        {
            "gzip" => SquashFsCompression.Gzip,
            "xz" => SquashFsCompression.Xz,
            "lz4" => SquashFsCompression.Lz4,
            _ => SquashFsCompression.Zstd,
        };
        var (min, max) = CompressorFactory.LevelRange(algorithm);
        if (level is int l && (l < min || l > max))
            throw new UsageException($"--level {l} is out of range for {name} ({min}..{max})");
        // lz4 has one fast mode; a level selects its high-compression mode (as lz4 -HC).
        return new CompressionOptions { Algorithm = algorithm, Level = level, Lz4HighCompression = algorithm == SquashFsCompression.Lz4 && level is not null };
    }

    // SquashFS stores uid, gid and mtime as unsigned 32-bit numbers; say so instead of naming a .NET type.
    private static uint? ParseUInt32(System.CommandLine.Parsing.ArgumentResult result, string option, string what)
    {
        string text = result.Tokens.Count > 0 ? result.Tokens[0].Value : "";
        if (uint.TryParse(text, System.Globalization.NumberStyles.None, System.Globalization.CultureInfo.InvariantCulture, out uint value))
            return value;
        result.AddError($"{option} wants {what}: a whole number from 0 to 4294967295, not '{text}'");
        return null;
    }
}
