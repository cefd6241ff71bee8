using Xar.Packer.Cli;

namespace Xar.Packer.Python;

/// <summary>
/// --bundle-python: the build interpreter copied into the image's <c>python/</c>, laid out as an installation
/// (bin/pythonX.Y, lib/pythonX.Y with lib-dynload) so that it finds its standard library from where it is:
/// the executable, the standard library without its test suites and caches (it is compiled again with the
/// rest), lib-dynload, and the shared libraries that the executable and its extension modules load, libpython
/// included, except glibc's own (ldd says which); their library search paths made relative (<see cref="ElfRunPath"/>).
/// </summary>
internal static class BundledPython
{
    public const string Directory = "python";

    /// <summary>glibc's libraries: every machine that runs the launcher has them, in the version it needs.</summary>
    private static readonly HashSet<string> GlibcLibraries = new(StringComparer.Ordinal)
    {
        "libc.so.6", "libm.so.6", "libpthread.so.0", "libdl.so.2", "librt.so.1", "libutil.so.1", "libresolv.so.2",
        "libanl.so.1", "libmvec.so.1", "libBrokenLocale.so.1", "libnss_files.so.2", "libnss_dns.so.2", "libthread_db.so.1",
        "libc_malloc_debug.so.0", "libmemusage.so", "libpcprofile.so", "ld-linux-x86-64.so.2", "ld-linux-aarch64.so.1",
    };

    /// <summary>Directories of the standard library left out: the test suites and bytecode caches, and what is not the standard library.</summary>
    private static readonly HashSet<string> LeftOut = new(StringComparer.Ordinal)
    {
        "test", "tests", "idle_test", "__pycache__", "site-packages", "dist-packages",
    };

    /// <summary>What of the bundled interpreter the app cannot start without: the executable and its standard library.</summary>
    public static string[] Needed(PythonInterpreter python) =>
        [$"{Directory}/bin/{python.Name}", $"{Directory}/lib/{Path.GetFileName(python.StandardLibrary.TrimEnd('/'))}"];

    /// <summary>Copies the interpreter; returns its path inside the image and whether shared libraries were copied.</summary>
    public static (string Executable, bool Libraries) Copy(PythonInterpreter python, string stagingRoot, bool quiet, CancellationToken cancel)
    {
        string root = Path.Combine(stagingRoot, Directory);
        string bin = Path.Combine(root, "bin");
        string lib = Path.Combine(root, "lib");
        string stdlibName = Path.GetFileName(python.StandardLibrary.TrimEnd('/'));
        string stdlib = Path.Combine(lib, stdlibName);
        System.IO.Directory.CreateDirectory(bin);
        System.IO.Directory.CreateDirectory(stdlib);
        string executable = Path.Combine(bin, python.Name);
        File.Copy(python.Executable, executable);
        CopyTree(python.StandardLibrary, stdlib, top: true, cancel);
        string dynload = Path.Combine(stdlib, "lib-dynload");
        if (python.DynamicModules.Length > 0 && !System.IO.Directory.Exists(dynload))
            CopyTree(python.DynamicModules, dynload, top: false, cancel);

        // What the executable and the extension modules load, found the way the loader finds it.
        var objects = new List<string> { python.Executable };
        if (System.IO.Directory.Exists(dynload))
            objects.AddRange(System.IO.Directory.EnumerateFiles(dynload, "*.so").Order(StringComparer.Ordinal));
        if (ToolProcess.Find("ldd") is not { } lddPath)
            throw new FrontEndException(null, "--bundle-python finds the interpreter's shared libraries with ldd, which is not installed (Debian: libc-bin)");
        var ldd = ToolProcess.Run(lddPath, objects, null, cancel);
        bool copied = false;
        foreach (string line in ldd.StandardOutput.Split('\n'))
        {
            // "\tlibssl.so.3 => /lib/x86_64-linux-gnu/libssl.so.3 (0x...)"; "not found" is left to fail at run time as here.
            string[] words = line.Trim().Split(' ', StringSplitOptions.RemoveEmptyEntries);
            if (words.Length < 3 || words[1] != "=>" || !words[2].StartsWith('/') || GlibcLibraries.Contains(words[0]))
                continue;
            string target = Path.Combine(lib, words[0]);
            if (File.Exists(target))
                continue;
            File.Copy(words[2], target);
            copied = true;
        }

        // Their library search paths made relative, to the image's python/lib (ElfRunPath says why).
        MakeRelative(executable, "$ORIGIN/../lib", stagingRoot, quiet);
        if (System.IO.Directory.Exists(dynload))
            foreach (string module in System.IO.Directory.EnumerateFiles(dynload, "*.so").Order(StringComparer.Ordinal))
                MakeRelative(module, "$ORIGIN/../..", stagingRoot, quiet);
        foreach (string library in System.IO.Directory.EnumerateFiles(lib).Order(StringComparer.Ordinal))
            MakeRelative(library, "$ORIGIN", stagingRoot, quiet);
        return ($"{Directory}/bin/{python.Name}", copied);
    }

    /// <summary>One file's search path rewritten; one that cannot be is left as it was, with a warning (it still runs here).</summary>
    private static void MakeRelative(string file, string relative, string stagingRoot, bool quiet)
    {
        try
        {
            ElfRunPath.MakeRelative(file, relative);
        }
        catch (InvalidDataException) when (quiet)
        {
        }
        catch (InvalidDataException e)
        {
            Console.Error.WriteLine($"xar: warning: {Path.GetRelativePath(stagingRoot, file)} left as it is ({e.Message[(e.Message.IndexOf(": ", StringComparison.Ordinal) + 2)..]}): a Python it starts may load its libraries from that path where the file runs");
        }
    }

    private static void CopyTree(string from, string to, bool top, CancellationToken cancel)
    {
        cancel.ThrowIfCancellationRequested();
        System.IO.Directory.CreateDirectory(to);
        foreach (string entry in System.IO.Directory.EnumerateFileSystemEntries(from).Order(StringComparer.Ordinal))
        {
            string name = Path.GetFileName(entry);
            string target = Path.Combine(to, name);
            var info = new FileInfo(entry);
            bool isDirectory = System.IO.Directory.Exists(entry);
            if (isDirectory)
            {
                // The build configuration (config-3.11-x86_64-linux-gnu: a static libpython, Makefile) is for building, not running.
                if (LeftOut.Contains(name) || (top && name.StartsWith("config-", StringComparison.Ordinal)))
                    continue;
                if (info.LinkTarget is not null)
                    continue;
                CopyTree(entry, target, top: false, cancel);
            }
            else if (File.Exists(entry) && !name.EndsWith(".pyc", StringComparison.Ordinal) && name != "EXTERNALLY-MANAGED")
            {
                File.Copy(entry, target);
            }
        }
    }
}
