using System.CommandLine;
using System.Globalization;
using System.Runtime.InteropServices;
using Xar.Packer.Cli;
using Xar.Posix;
using Xar.SquashFs;
using Xar.SquashFs.Compression;
using Xar.SquashFs.Format;
using Xar.Runtime;
using Xar.Runtime.Launching;
using Xar.SquashFs.Writing;

namespace Xar.Packer.Commands;

/// <summary><c>xar pack SOURCE_DIR -o OUT</c>: a directory into a XAR file or a bare SquashFS image.</summary>
public static class PackCommand
{
    /// <param name="args">The command line (for the bytes of --exec-arg values, see <see cref="RawOptionValues"/>).</param>
    public static Command Create(string[] args)
    {
        var source = new Argument<string>("SOURCE_DIR") { Description = "Directory to pack" };
        var output = new Option<string>("--output", "-o") { HelpName = "OUT", Description = "File to write (replaced only when packing succeeds), or - for standard output", Required = true };
        var format = new Option<string>("--format") { Description = "xar (default: header + image, executable) or squashfs (bare image)", DefaultValueFactory = _ => "xar" };
        format.AcceptOnlyFromAmong("xar", "squashfs");
        var exec = new Option<string?>("--exec") { HelpName = "PATH", Description = "Entrypoint: executable file inside SOURCE_DIR (a path relative to it) run with the archive's arguments (xar format)" };
        var execArgs = new Option<string[]>(ExecArgOption)
        {
            HelpName = "ARG",
            Description = "Fixed argument for the entrypoint, placed before the archive's arguments (repeatable, in order; --exec-arg=-x for one that starts with -)",
            AllowMultipleArgumentsPerToken = false,
        };
        var compression = new Option<string>("--compression", "-c") { Description = "zstd (default), gzip, xz, lz4 or none", DefaultValueFactory = _ => "zstd" };
        compression.AcceptOnlyFromAmong("zstd", "gzip", "xz", "lz4", "none");
        var level = new Option<int?>("--level") { HelpName = "N", Description = "Compression level: zstd 1-22 (15), gzip 1-9 (9), xz 0-9 (6), lz4 1-12 (high-compression mode)" };
        var blockSize = new Option<string>("--block-size", "-b") { HelpName = "SIZE", Description = "Data block size, a power of two from 4K to 1M (128K)", DefaultValueFactory = _ => "128K" };
        var noFragments = new Option<bool>("--no-fragments") { Description = "Store file tails as short blocks instead of packing them together" };
        var noDedup = new Option<bool>("--no-dedup") { Description = "Store files with equal content separately" };
        var noXattrs = new Option<bool>("--no-xattrs") { Description = "Leave extended attributes out" };
        var allRoot = new Option<bool>("--all-root") { Description = "Every entry owned by root (uid 0, gid 0)" };
        var uid = new Option<uint?>("--uid") { HelpName = "N", Description = "Every entry owned by this uid", CustomParser = r => ParseUInt32(r, "--uid", "a uid") };
        var gid = new Option<uint?>("--gid") { HelpName = "N", Description = "Every entry gets this gid", CustomParser = r => ParseUInt32(r, "--gid", "a gid") };
        var mtime = new Option<uint?>("--mtime") { HelpName = "EPOCH", Description = "Every entry gets this modification time (seconds since 1970)", CustomParser = r => ParseUInt32(r, "--mtime", "seconds since 1970") };
        var sort = new Option<string?>("--sort") { HelpName = "FILE", Description = "mksquashfs sort file: lines \"PATH PRIORITY\" (-32768..32767, higher stored first)" };
        var exclude = new Option<string[]>("--exclude") { HelpName = "GLOB", Description = "Leave out entries matching GLOB (repeatable; without '/' it matches names at any depth)", AllowMultipleArgumentsPerToken = false };
        var jobs = new Option<int?>("--jobs", "-j") { HelpName = "N", Description = "Compression threads (default: all cores)" };
        var quiet = new Option<bool>("--quiet", "-q") { Description = "No progress bar, summary line or warnings (errors only)" };
        var selfContained = new Option<bool>("--self-contained") { Description = "One executable that needs no xar installed: the runtime (xarexec) with the XAR appended (xar format)" };
        var runtime = new Option<string?>("--runtime") { HelpName = "FILE", Description = "The runtime for --self-contained (default: the xarexec installed with this xar)" };

        var command = new Command("pack", "Pack a directory into a XAR file (or a bare SquashFS image). SOURCE_DATE_EPOCH sets the image time and VERSION, for reproducible output.")
        {
            source, output, format, exec, execArgs, compression, level, blockSize, noFragments, noDedup, noXattrs,
            allRoot, uid, gid, mtime, sort, exclude, jobs, quiet, selfContained, runtime,
        };
        command.SetAction(parse =>
        {
            string src = parse.GetValue(source)!;
            string outFile = parse.GetValue(output)!;
            // Errors name the file they concern (source entry, OUT, sort file) or none for option errors.
            return CliRunner.Run(null, () =>
            {
                bool isXar = parse.GetValue(format) == "xar";
                string? execPath = parse.GetValue(exec);
                if (execPath is not null && !isXar)
                    throw new UsageException("--exec needs --format xar");
                bool isSelfContained = parse.GetValue(selfContained);
                string? runtimePath = parse.GetValue(runtime);
                if (isSelfContained && !isXar)
                    throw new UsageException("--self-contained needs --format xar (a bare image has no runtime to start it)");
                if (runtimePath is not null && !isSelfContained)
                    throw new UsageException("--runtime needs --self-contained");
                CheckSourceDirectory(src);
                if (execPath is not null)
                    CheckExecIsInSource(src, execPath);
                string[] execArgValues = parse.GetValue(execArgs) ?? [];
                if (execArgValues.Length > 0 && execPath is null)
                    throw new UsageException("--exec-arg needs --exec (the entrypoint the arguments are for)");
                if (parse.GetValue(allRoot) && (parse.GetValue(uid) is not null || parse.GetValue(gid) is not null))
                    throw new UsageException("--all-root and --uid/--gid exclude each other");
                int block = ParseBlockSize(parse.GetValue(blockSize)!);
                var codec = MakeCompression(parse.GetValue(compression)!, parse.GetValue(level));
                int? jobCount = parse.GetValue(jobs);
                if (jobCount is < 1 or > 1024)
                    throw new UsageException($"--jobs must be 1..1024, not {jobCount}");
                string? sortFile = parse.GetValue(sort);
                byte[]? runtimeBytes = isSelfContained ? ReadRuntime(runtimePath) : null;
                // "-o -": pack into a temporary file, then copy it to stdout (the writer seeks back to
                // finish the superblock, and a failed pack must not leave half an image in a pipe).
                bool toStdout = outFile == "-";
                if (toStdout && !Console.IsOutputRedirected)
                    throw new UsageException("standard output is a terminal; redirect it or give a file to -o");
                if (toStdout)
                    outFile = Path.Combine(Path.GetTempPath(), $"xar-pack-{Environment.ProcessId}-{Guid.NewGuid():N}.out");
                else if (Directory.Exists(outFile))
                    throw new UsageException("is a directory (give the file to write)", outFile);
                string? outDirectory = Path.GetDirectoryName(Path.GetFullPath(outFile));
                if (outDirectory is not null && !Directory.Exists(outDirectory))
                    throw new UsageException("no such directory: " + outDirectory, outFile);
                if (!toStdout)
                    CheckOutputIsNotInSource(src, outFile);
                // Off a terminal there is no bar, but the summary line still ends the run (unless --quiet).
                bool beQuiet = parse.GetValue(quiet);
                using var progress = beQuiet ? null : new ProgressBar(draw: !Console.IsErrorRedirected);
                var imageOptions = new SquashFsWriterOptions
                {
                    BlockSize = block,
                    Compression = codec,
                    NoFragments = parse.GetValue(noFragments),
                    NoDeduplication = parse.GetValue(noDedup),
                    NoXattrs = parse.GetValue(noXattrs),
                    Uid = parse.GetValue(allRoot) ? 0 : parse.GetValue(uid),
                    Gid = parse.GetValue(allRoot) ? 0 : parse.GetValue(gid),
                    FixedModificationTime = parse.GetValue(mtime),
                    Jobs = jobCount ?? Environment.ProcessorCount,
                    SortPriorities = sortFile is null ? null : SortFile.Read(sortFile, src),
                    Excludes = parse.GetValue(exclude) ?? [],
                    Progress = progress is null ? null : progress.Report,
                    Warning = beQuiet ? null : message => { progress?.Clear(); Console.Error.WriteLine($"xar: warning: {message}"); },
                };
                using var cancel = new CancellationTokenSource();
                using var sigint = PosixSignalRegistration.Create(PosixSignal.SIGINT, c => { c.Cancel = true; cancel.Cancel(); });
                using var sigterm = PosixSignalRegistration.Create(PosixSignal.SIGTERM, c => { c.Cancel = true; cancel.Cancel(); });
                string displayOut = toStdout ? "standard output" : outFile;
                long packedSize = 0;
                try
                {
                    if (isXar)
                        XarFile.CreateFromDirectory(src, outFile, new XarWriterOptions
                        {
                            Image = imageOptions,
                            ExecPath = execPath,
                            ExecArguments = RawOptionValues.Find(args, ExecArgOption, execArgValues),
                            Runtime = runtimeBytes,
                        }, cancel.Token);
                    else
                        SquashFsFile.CreateFromDirectory(src, outFile, imageOptions, cancel.Token);
                    packedSize = new FileInfo(outFile).Length;
                    if (toStdout)
                    {
                        using var packed = new FileStream(outFile, FileMode.Open, FileAccess.Read, FileShare.Read, 1 << 20);
                        packed.CopyTo(StandardOutput.Stream, 1 << 20);
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
                    // Reading the tree reports SourceTreeException; anything else failed writing OUT.
                    progress?.Clear();
                    return CliRunner.Fail(displayOut, e.Message, ExitCodes.Failure);
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
                    if (isXar && execPath is null)
                        Console.Error.WriteLine($"xar: warning: no --exec: {displayOut} can be mounted and inspected (xar mount, ls, extract) but not run");
                    Console.Error.WriteLine(progress.Summary(displayOut, packedSize));
                }
                return ExitCodes.Success;
            });
        });
        return command;
    }

    private const string ExecArgOption = "--exec-arg";

    /// <summary>
    /// The runtime's ELF bytes: --runtime FILE, else the xarexec installed with this xar (beside it, or in its
    /// prefix's bin/). Never one found on PATH: a self-contained file must carry this build's launcher.
    /// </summary>
    private static byte[] ReadRuntime(string? runtimePath)
    {
        string? path = runtimePath ?? InstalledLauncher.Find(Environment.ProcessPath);
        if (path is null)
            throw new UsageException($"--self-contained: no xarexec installed with this xar (looked beside {Environment.ProcessPath} and in its prefix's bin/); give the runtime with --runtime FILE");
        if (Directory.Exists(path))
            throw new UsageException("--runtime: is a directory, not an executable", path);
        if (!File.Exists(path))
            throw new UsageException("--runtime: no such file", path);
        try
        {
            return XarFile.ReadRuntime(path);
        }
        catch (ArgumentException e)
        {
            throw new UsageException("--runtime: " + e.Message, path);
        }
    }

    /// <summary>
    /// An OUT inside SOURCE_DIR that names an existing entry is refused: the rename at the end would
    /// replace a file of the tree, the entrypoint even (`-o SRC/run.sh --exec run.sh`), after packing it.
    /// A new OUT inside SOURCE_DIR is fine (the writer leaves it out of the image). "Inside" is decided
    /// by the directories themselves (device and inode, going up through ".."), whatever the spelling.
    /// </summary>
    private static unsafe void CheckOutputIsNotInSource(string src, string outFile)
    {
        if (LibC.StatxAt(LibC.AT_FDCWD, outFile, LibC.AT_SYMLINK_NOFOLLOW, LibC.STATX_BASIC_STATS, out _) != 0
            || LibC.StatxAt(LibC.AT_FDCWD, src, 0, LibC.STATX_BASIC_STATS, out var root) != 0)
            return;
        string directory = Path.GetDirectoryName(outFile) is { Length: > 0 } d ? d : ".";
        int fd = LibC.Open(directory, LibC.O_PATH | LibC.O_DIRECTORY | LibC.O_CLOEXEC, 0);
        ReadOnlySpan<byte> parent = "..\0"u8;
        try
        {
            while (fd >= 0 && LibC.FStatx(fd, out var current) == 0)
            {
                if (current.Ino == root.Ino && current.DevMajor == root.DevMajor && current.DevMinor == root.DevMinor)
                    throw new UsageException("exists inside SOURCE_DIR: packing would replace a file it packs (write OUT outside SOURCE_DIR, or remove it first)", outFile);
                int up;
                fixed (byte* name = parent)
                    up = LibC.OpenAt(fd, name, LibC.O_PATH | LibC.O_DIRECTORY | LibC.O_CLOEXEC, 0);
                if (up >= 0 && LibC.FStatx(up, out var above) == 0 && above.Ino == current.Ino
                    && above.DevMajor == current.DevMajor && above.DevMinor == current.DevMinor)
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

    /// <summary>SOURCE_DIR must be a directory; a file that exists is not "missing" (for both formats).</summary>
    private static void CheckSourceDirectory(string src)
    {
        if (Directory.Exists(src))
            return;
        throw new UsageException(Path.Exists(src) ? "is not a directory (SOURCE_DIR is the directory to pack)" : "no such directory", src);
    }

    /// <summary>
    /// --exec is relative to SOURCE_DIR. A path that is not in the tree but exists from the current
    /// directory (`xar pack app -o a.xar --exec app/bin/run`) gets a hint instead of "no such file".
    /// </summary>
    private static void CheckExecIsInSource(string src, string execPath)
    {
        if (Path.Exists(Path.Join(src, execPath)) || !Path.Exists(execPath))
            return;
        string full = Path.GetFullPath(execPath);
        string root = Path.GetFullPath(src);
        string relative = Path.GetRelativePath(root, full);
        bool inside = relative != "." && relative != ".." && !relative.StartsWith("../", StringComparison.Ordinal) && !Path.IsPathRooted(relative);
        throw new UsageException(inside
            ? $"--exec: no such file in {src}: the path is relative to SOURCE_DIR (try --exec {relative})"
            : $"--exec: no such file in {src}: the path is relative to SOURCE_DIR, and {execPath} is not inside it (the entrypoint must be in the archive)", execPath);
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
