using System.Text;

namespace Xar.Packer.Python;

/// <summary>
/// The two files `xar python` adds to the image, in <c>xar-python/</c>: <c>run</c>, the entrypoint (a /bin/sh
/// script that finds the interpreter or says which one is needed), and <c>boot.py</c>, precompiled like the rest,
/// which sets up the site directory and starts the app.
/// </summary>
internal static class PythonLauncherFiles
{
    public const string Directory = "xar-python";
    public const string RunScript = Directory + "/run";
    public const string SiteDirectory = "site-packages";
    /// <summary>Exit status of the entrypoint when the interpreter it needs is not there (as a shell's "command not found").</summary>
    public const int InterpreterMissingStatus = 127;

    /// <param name="bundled">The interpreter's path inside the image (python/bin/python3.11) with --bundle-python, else null.</param>
    /// <param name="bundledLibraries">--bundle-python copied shared libraries into python/lib (LD_LIBRARY_PATH is needed).</param>
    /// <summary>The compiled boot module that run executes, relative to <see cref="Directory"/>.</summary>
    public static string BootModule(PythonInterpreter python) => $"__pycache__/boot.{python.CacheTag}.pyc";

    public static void Write(string stagingRoot, PythonInterpreter python, PythonEntryPoint entry, string? bundled, bool bundledLibraries)
    {
        string directory = Path.Combine(stagingRoot, Directory);
        System.IO.Directory.CreateDirectory(directory);
        string boot = BootModule(python);
        var run = new StringBuilder();
        run.Append("#!/bin/sh\n");
        run.Append($"# Written by xar python: starts the app ({entry}) with Python {python.Version}.\n");
        run.Append("# -I: no PYTHON* variables, user site or current directory on sys.path; -S: no system site-packages\n");
        run.Append("# (boot adds the image's); -B: nothing written (every module is precompiled).\n");
        run.Append("case $0 in */*) here=${0%/*} ;; *) here=. ;; esac\n");
        if (bundled is null)
        {
            run.Append($"if command -v {python.Name} >/dev/null 2>&1; then\n");
            run.Append($"    exec {python.Name} -I -S -B \"$here/{boot}\" \"$@\"\n");
            run.Append("fi\n");
            run.Append($"echo \"xar: ${{XAR_PATH:-$0}}: needs {python.Name} (Python {python.Version}, which it was built for) on PATH: install it, or build the file with xar python --bundle-python\" >&2\n");
            run.Append($"exit {InterpreterMissingStatus}\n");
        }
        else
        {
            if (bundledLibraries)
            {
                // The shared libraries its extension modules need; boot.py takes this back out of os.environ
                // so that the app's own child processes see the caller's LD_LIBRARY_PATH.
                run.Append("LD_LIBRARY_PATH=\"${here%/*}/python/lib${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}\"\n");
                run.Append("export LD_LIBRARY_PATH\n");
            }
            run.Append($"exec \"${{here%/*}}/{bundled}\" -I -S -B \"$here/{boot}\" \"$@\"\n");
        }
        File.WriteAllText(Path.Combine(directory, "run"), run.ToString(), new UTF8Encoding(false));
        if (!OperatingSystem.IsWindows())
            File.SetUnixFileMode(Path.Combine(directory, "run"), (UnixFileMode)0b111_101_101);
        File.WriteAllText(Path.Combine(directory, "boot.py"), BootSource(entry, bundledLibraries), new UTF8Encoding(false));
    }

    /// <summary>boot.py: the site directory, then the entry point. Names in it are checked identifiers (no quoting needed).</summary>
    private static string BootSource(PythonEntryPoint entry, bool restoreLibraryPath)
    {
        var s = new StringBuilder();
        s.Append("# Written by xar python: run by xar-python/run as a precompiled .pyc; sets up the image's site\n");
        s.Append("# directory and starts the app.\n");
        s.Append("import os\nimport site\nimport sys\n\n");
        s.Append("sys.dont_write_bytecode = True\n");
        s.Append("_root = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))\n");
        s.Append($"# A real site directory: its .pth files run (namespace packages), importlib.metadata finds its dists.\n");
        s.Append($"site.addsitedir(os.path.join(_root, \"{SiteDirectory}\"))\n");
        s.Append("# What site.main() would add to builtins under -S: exit(), quit(), help(), copyright...\n");
        s.Append("site.setquit()\nsite.setcopyright()\nsite.sethelper()\n");
        if (restoreLibraryPath)
        {
            s.Append("_lib = os.path.join(_root, \"python\", \"lib\")\n");
            s.Append("_paths = os.environ.get(\"LD_LIBRARY_PATH\", \"\").split(\":\")\n");
            s.Append("if _paths[0] == _lib:\n");
            s.Append("    if len(_paths) > 1:\n");
            s.Append("        os.environ[\"LD_LIBRARY_PATH\"] = \":\".join(_paths[1:])\n");
            s.Append("    else:\n");
            s.Append("        del os.environ[\"LD_LIBRARY_PATH\"]\n");
        }
        s.Append("# The file the user ran, as for a script.\n");
        s.Append("sys.argv[0] = os.environ.get(\"XAR_PATH\") or sys.argv[0]\n");
        // Only as the main script: multiprocessing's spawn runs this file again in each child as __mp_main__,
        // where it must set up the site directory and start nothing.
        s.Append("if __name__ == \"__main__\":\n");
        if (entry.Function is null)
        {
            s.Append("    import runpy\n\n");
            s.Append("    # As python -m does, but with sys.argv[0] left as it is.\n");
            s.Append($"    runpy._run_module_as_main(\"{entry.Module}\", alter_argv=False)\n");
        }
        else
        {
            s.Append("    import importlib\n\n");
            s.Append($"    _target = importlib.import_module(\"{entry.Module}\")\n");
            s.Append($"    for _name in \"{entry.Function}\".split(\".\"):\n");
            s.Append("        _target = getattr(_target, _name)\n");
            s.Append("    sys.exit(_target())\n");
        }
        return s.ToString();
    }
}
