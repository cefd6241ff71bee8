using Microsoft.Win32.SafeHandles;
using System.Globalization;
using System.Security.Cryptography;
using System.Text;
using Xar.Posix;
using Xar.SquashFs;

namespace Xar.Runtime;

/// <summary>How <see cref="XarFile.CreateFromDirectory"/> builds a XAR file.</summary>
public sealed record class XarWriterOptions
{
    /// <summary>How the SquashFS image inside is built.</summary>
    public SquashFsWriterOptions Image { get; init; } = new();

    /// <summary>
    /// The entrypoint: a path relative to the source directory of an executable file. The image gets
    /// a small /bin/sh bootstrap script as XAREXEC_TARGET that runs it with the archive's arguments.
    /// Null: no XAREXEC_TARGET (the archive can only be mounted).
    /// </summary>
    public string? ExecPath { get; init; }

    /// <summary>
    /// Fixed arguments for the entrypoint, placed before the archive's arguments (bytes, any value but
    /// NUL). Needs <see cref="ExecPath"/>. The bootstrap passes them, and the header holds them in
    /// <c>XAR_EXEC_ARGS</c> (<see cref="XarExecArguments"/>) for launchers that exec the entrypoint directly.
    /// </summary>
    public IReadOnlyList<byte[]>? ExecArguments { get; init; }

    /// <summary>VERSION header value. Null: SOURCE_DATE_EPOCH when set, else the current time.</summary>
    public string? Version { get; init; }

    /// <summary>MOUNT_ROOT header value (optional).</summary>
    public string? MountRoot { get; init; }

    /// <summary>DEPENDENCIES header value (optional).</summary>
    public IReadOnlyList<string>? Dependencies { get; init; }

    /// <summary>
    /// The ELF runtime of a self-contained executable (<see cref="XarFile.ReadRuntime"/>): the file is then these bytes,
    /// zeros up to the next multiple of 4096 (R), and a complete XAR from R on, whose OFFSET counts from R, so the
    /// bytes from R are a XAR any launcher runs. Null: a plain XAR.
    /// </summary>
    public byte[]? Runtime { get; init; }
}

/// <summary>Creates XAR files: Facebook's header (DESIGN.md) followed by a SquashFS image at offset 4096.</summary>
public static class XarFile
{
    public const string BootstrapName = "xar_bootstrap.sh";

    /// <summary>
    /// Packs <paramref name="sourceDirectory"/> into a XAR file at <paramref name="destinationFile"/> (mode 0755),
    /// through a temporary sibling renamed into place when complete. Returns the header written.
    /// The UUID is the first 16 hex digits of the image's SHA-256. With an entrypoint, the header also
    /// names it in <c>XAR_EXEC</c> (and its fixed arguments in <c>XAR_EXEC_ARGS</c>), unless its path holds
    /// a byte that cannot stand in a header value (<see cref="XarHeader.IsWritableValue"/>): launchers then
    /// run the bootstrap, as Facebook's always does.
    /// </summary>
    public static XarHeader CreateFromDirectory(string sourceDirectory, string destinationFile, XarWriterOptions? options = null,
        CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(sourceDirectory);
        ArgumentNullException.ThrowIfNull(destinationFile);
        options ??= new XarWriterOptions();
        options.Image.Validate();
        string version = options.Version ?? SquashFsWriterOptions.GetDefaultImageTime().ToString(CultureInfo.InvariantCulture);
        if (version.Length == 0 || !version.All(char.IsAsciiDigit))
            throw new ArgumentException($"VERSION \"{version}\" must be an unsigned integer");
        IReadOnlyList<byte[]> execArguments = options.ExecArguments ?? [];
        if (execArguments.Count > 0 && options.ExecPath is null)
            throw new ArgumentException("fixed arguments for the entrypoint need an entrypoint (ExecPath)");
        if (execArguments.Any(a => a.Contains((byte)0)))
            throw new ArgumentException("an argument for the entrypoint contains a NUL byte, which no program argument can hold");
        // Checked by its bytes: the path may hold bytes that are not UTF-8 (LosslessUtf8.Decode), which .NET's own file calls would change.
        if (PosixPath.TryStat(sourceDirectory) is not { IsDirectory: true })
            throw new SourceTreeException(LosslessUtf8.Display(sourceDirectory), PosixPath.TryLstat(sourceDirectory) is not null ? "is a file, not a directory" : "no such directory", isBadInput: true);

        var image = options.Image with { ReplacedFile = NativePath.FullPath(destinationFile) };
        var mode = UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute | UnixFileMode.GroupRead
            | UnixFileMode.GroupExecute | UnixFileMode.OtherRead | UnixFileMode.OtherExecute;
        string? target = null;
        var extra = new List<KeyValuePair<string, string>>();
        if (options.ExecPath is not null)
        {
            string exec = CheckExecutable(sourceDirectory, options.ExecPath);
            // An entrypoint that --exclude leaves out would make an archive that cannot start.
            if (image.IsExcluded(exec, out string? excluded))
                throw new SourceTreeException(LosslessUtf8.Display(options.ExecPath), $"--exec: {LosslessUtf8.Display(excluded)} is left out by --exclude", isBadInput: true);
            target = BootstrapName;
            for (int i = 1; PosixPath.TryLstat(Path.Combine(sourceDirectory, target)) is not null; i++)
                target = $"xar_bootstrap_{i}.sh";
            image = image with
            {
                ExtraRootFiles = [.. image.ExtraRootFiles ?? [], new SquashFsExtraFile(target, BootstrapScript(exec, execArguments), mode)],
            };
            // The header is UTF-8 text: an entrypoint whose name is not UTF-8 is found by the script alone.
            if (XarHeader.IsWritableValue(exec) && !LosslessUtf8.HasEscapes(exec))
            {
                extra.Add(new(XarHeader.ExecName, exec));
                if (execArguments.Count > 0)
                    extra.Add(new(XarHeader.ExecArgsName, XarExecArguments.Encode(execArguments)));
            }
        }
        if (options.Dependencies is { Count: > 0 } deps)
            extra.Add(new(XarHeader.DependenciesName, string.Join(' ', deps)));
        if (options.MountRoot is not null)
            extra.Add(new(XarHeader.MountRootName, options.MountRoot));
        // The same header with a stand-in UUID (the real one is the image's hash): refuses a value that
        // cannot be written, or a header too long for OFFSET, before any work is done.
        _ = new XarHeader(new string('0', 16), version, target, extra);

        byte[] runtime = options.Runtime ?? [];
        if (runtime.Length > 0 && ElfExtent.End(runtime) != runtime.Length)
            throw new ArgumentException("the runtime must be an ELF executable with nothing appended (XarFile.ReadRuntime)");
        long start = runtime.Length == 0 ? 0 : ElfExtent.XarStart(runtime.Length);
        XarHeader? header = null;
        AtomicFile.Write(destinationFile, mode, stream =>
        {
            stream.Write(runtime);
            stream.Write(new byte[start - runtime.Length + XarHeader.DefaultOffset]);
            // The image starts at the stream's position: after the header's room.
            SquashFsFile.CreateFromDirectory(sourceDirectory, stream, image, leaveOpen: true, cancellationToken);
            stream.Flush();
            stream.Position = start + XarHeader.DefaultOffset;
            string uuid = Convert.ToHexStringLower(SHA256.HashData(stream))[..16];
            header = new XarHeader(uuid, version, target, extra);
            stream.Position = start;
            stream.Write(header.ToBytes());
        });
        return header!;
    }

    /// <summary>
    /// The ELF bytes of <paramref name="path"/> (up to its ELF end: a self-contained executable gives its runtime) for
    /// <see cref="XarWriterOptions.Runtime"/>.
    /// </summary>
    /// <exception cref="ArgumentException">The file is not an ELF executable xar can read.</exception>
    public static byte[] ReadRuntime(string path)
    {
        ArgumentNullException.ThrowIfNull(path);
        using var handle = File.OpenHandle(path, FileMode.Open, FileAccess.Read, FileShare.Read);
        return ReadRuntime(handle, path);
    }

    /// <summary>As <see cref="ReadRuntime(string)"/>, from a file already open; <paramref name="shown"/> names it in messages.</summary>
    /// <exception cref="ArgumentException">The file is not an ELF executable xar can read.</exception>
    public static byte[] ReadRuntime(SafeFileHandle handle, string shown)
    {
        ArgumentNullException.ThrowIfNull(handle);
        string path = shown;
        var head = new byte[ElfExtent.HeadBytes];
        int length = RandomAccess.Read(handle, head, 0);
        long end = ElfExtent.End(head.AsSpan(0, length));
        if (end < 0 || end > RandomAccess.GetLength(handle) || end > int.MaxValue)
            throw new ArgumentException($"{path} is not an ELF executable (the runtime is xarexec)");
        var runtime = new byte[end];
        int total = 0;
        while (total < runtime.Length)
        {
            int n = RandomAccess.Read(handle, runtime.AsSpan(total), total);
            if (n == 0)
                throw new ArgumentException($"{path} ends before its ELF end at {end}");
            total += n;
        }
        return runtime;
    }

    /// <summary>The exec path must name an executable file inside the tree; returns it '/'-separated without leading "./".</summary>
    private static string CheckExecutable(string sourceDirectory, string execPath)
    {
        string relative = execPath.Replace('\\', '/');
        while (relative.StartsWith("./", StringComparison.Ordinal))
            relative = relative[2..];
        if (relative.Length == 0 || relative.StartsWith('/') || relative.Split('/').Contains(".."))
            throw new SourceTreeException(LosslessUtf8.Display(execPath), "--exec must be a path inside the source directory (relative, without ..)", isBadInput: true);
        var status = PosixPath.TryStat(Path.Combine(sourceDirectory, relative)); // a link followed to what it names
        string shown = LosslessUtf8.Display(sourceDirectory);
        if (status is { IsDirectory: true })
            throw new SourceTreeException(LosslessUtf8.Display(execPath), $"--exec: is a directory in {shown}; give the executable file", isBadInput: true);
        if (status is not { } file)
            throw new SourceTreeException(LosslessUtf8.Display(execPath), $"--exec: no such file in {shown}", isBadInput: true);
        if (!file.IsRegularFile)
            throw new SourceTreeException(LosslessUtf8.Display(execPath), $"--exec: is not a regular file in {shown}", isBadInput: true);
        if ((file.Mode & 0b001_001_001) == 0)
            throw new SourceTreeException(LosslessUtf8.Display(execPath), "--exec: the file is not executable (no x permission)", isBadInput: true);
        return relative;
    }

    /// <summary>
    /// The XAREXEC_TARGET script. Launchers run it as <c>/bin/sh -e TARGET XARPATH ARGS...</c>: it
    /// drops XARPATH (keeping it in XAR_PATH), sets XAR_MOUNT to the directory holding the files,
    /// and execs the entrypoint with the fixed arguments, then the remaining ones.
    /// </summary>
    internal static byte[] BootstrapScript(string execRelativePath, IReadOnlyList<byte[]>? fixedArguments = null)
    {
        var s = new StringBuilder();
        s.Append("#!/bin/sh\n");
        s.Append("# Written by xar pack. Run as: /bin/sh -e THIS_SCRIPT XAR_FILE [ARGS...]\n");
        // Both absolute, so the program may change directory. Launchers pass an absolute script
        // path: no subshell (a fork per start) is needed for XAR_MOUNT then.
        s.Append("case \"$1\" in ''|/*) XAR_PATH=\"$1\" ;; *) XAR_PATH=\"${PWD%/}/${1#./}\" ;; esac\n");
        s.Append("shift\n");
        s.Append("case \"$0\" in\n");
        s.Append("/*) XAR_MOUNT=\"${0%/*}\"; XAR_MOUNT=\"${XAR_MOUNT:-/}\" ;;\n");
        s.Append("*/*) XAR_MOUNT=$(cd -- \"${0%/*}\" && pwd) ;;\n");
        s.Append("*) XAR_MOUNT=\"$PWD\" ;;\n");
        s.Append("esac\n");
        s.Append("export XAR_PATH XAR_MOUNT\n");
        s.Append("exec \"$XAR_MOUNT\"/");
        var script = new List<byte>(Encoding.UTF8.GetBytes(s.ToString()));
        AppendShellQuoted(script, LosslessUtf8.Encode(execRelativePath)); // a name that is not UTF-8 by its bytes
        foreach (byte[] argument in fixedArguments ?? [])
        {
            script.Add((byte)' ');
            AppendShellQuoted(script, argument);
        }
        script.AddRange(" \"$@\"\n"u8);
        return [.. script];
    }

    /// <summary>
    /// <paramref name="word"/> as one sh word: in single quotes, where every byte but the quote itself
    /// stands for itself (newlines and bytes that are not UTF-8 too); a quote is written '\''.
    /// </summary>
    private static void AppendShellQuoted(List<byte> script, byte[] word)
    {
        script.Add((byte)'\'');
        foreach (byte b in word)
        {
            if (b == '\'')
                script.AddRange("'\\''"u8);
            else
                script.Add(b);
        }
        script.Add((byte)'\'');
    }
}
