using Xar.Packer.Cli;

namespace Xar.Packer.Node;

/// <summary>
/// The node executable an app is packed for (the one on PATH, or --bundle-node PATH), its version, and its
/// copy into the image with every shared library it needs beyond glibc (as ldd lists them), so a bundled
/// node runs where no Node.js is installed.
/// </summary>
public sealed record NodeRuntime(string Executable, string Version)
{
    /// <summary>"v20.20.2" → 20.</summary>
    public int Major => int.TryParse(Version.TrimStart('v').Split('.')[0], out int major) ? major : 0;

    /// <summary>glibc's own libraries, which every Linux system has and which must match its loader: never bundled.</summary>
    private static readonly string[] GlibcLibraries =
        ["linux-vdso.so", "ld-linux", "libc.so", "libm.so", "libdl.so", "libpthread.so", "librt.so", "libresolv.so", "libutil.so", "libanl.so", "libnsl.so", "libmvec.so"];

    /// <param name="given">--bundle-node PATH, or null for the node on PATH.</param>
    public static NodeRuntime Find(string? given, CancellationToken cancel)
    {
        string executable;
        if (given is not null)
        {
            CheckGiven(given);
            executable = Path.GetFullPath(given);
        }
        else
        {
            executable = ToolProcess.Find("node") ?? throw new FrontEndException(null, "node not found on PATH (xar node packs for the node it finds there; or give one: --bundle-node=PATH)");
        }
        var result = ToolProcess.Run(executable, ["--version"], null, cancel);
        string version = result.StandardOutput.Trim();
        if (!result.Succeeded || !version.StartsWith('v'))
            throw new FrontEndException(executable, $"is not a working node executable ({executable} --version: exit {result.ExitCode})");
        return new NodeRuntime(executable, version);
    }

    /// <summary>--bundle-node PATH must be a file (a folder here is usually PROJECT_DIR taken as PATH).</summary>
    public static void CheckGiven(string given)
    {
        if (Directory.Exists(given))
            throw new UsageException("--bundle-node: is a directory, not the node executable (write --bundle-node=PATH, or put PROJECT_DIR first)", given);
        if (!File.Exists(given))
            throw new UsageException("--bundle-node: no such file", given);
    }

    /// <summary>
    /// Copies node into DIR/bin/node and the libraries it needs beyond glibc into DIR/lib (what the launch script puts on
    /// LD_LIBRARY_PATH). Returns the libraries' names. A library ldd cannot find stops the pack.
    /// </summary>
    public IReadOnlyList<string> CopyTo(string directory, CancellationToken cancel)
    {
        string bin = Path.Combine(directory, "bin"), lib = Path.Combine(directory, "lib");
        Directory.CreateDirectory(bin);
        string target = Path.Combine(bin, "node");
        File.Copy(Executable, target); // the file itself, a symbolic link followed
        Xar.Posix.LibC.Chmod(target, 0x1ED); // 0755
        var copied = new List<string>();
        string ldd = ToolProcess.Find("ldd") ?? throw new FrontEndException(null, "ldd not found on PATH (needed to find the libraries node needs; Debian package libc-bin)");
        var result = ToolProcess.Run(ldd, [Executable], null, cancel);
        if (!result.Succeeded)
            return copied; // a static executable ("not a dynamic executable"): nothing to add
        foreach (string line in result.Lines)
        {
            // "\tlibstdc++.so.6 => /lib/x86_64-linux-gnu/libstdc++.so.6 (0x...)" or "\tlibfoo.so.1 => not found"
            string[] parts = line.Trim().Split(' ', StringSplitOptions.RemoveEmptyEntries);
            if (parts.Length < 3 || parts[1] != "=>")
                continue;
            string name = parts[0];
            if (GlibcLibraries.Any(g => name.StartsWith(g, StringComparison.Ordinal)))
                continue;
            if (parts[2] == "not")
                throw new FrontEndException(Executable, $"needs {name}, which is not found on this machine (ldd), so it cannot be bundled");
            Directory.CreateDirectory(lib);
            File.Copy(parts[2], Path.Combine(lib, name), overwrite: true);
            copied.Add(name);
        }
        return copied;
    }
}
