using Xar.Tests;

namespace Xar.Launcher.Tests;

/// <summary>
/// samples/python built into wheels offline (pip wheel --no-index --no-build-isolation, with Debian's
/// /usr/bin/python3, gcc and the Python headers) and packed by `xar python --no-index --find-links`, once per
/// class (<see cref="PythonSampleFixture"/>); packed again where a test needs other options.
/// </summary>
[System.Runtime.Versioning.SupportedOSPlatform("linux")]
public sealed class PythonSampleFixture : IDisposable
{
    /// <summary>The interpreter the tests build for: a known one, not whatever python3 comes first on PATH.</summary>
    public const string Python = "/usr/bin/python3";

    private readonly TempDir _temp = new("python-");
    private readonly Lazy<string> _wheels;
    private readonly Lazy<string> _default;
    private readonly Lazy<string> _bundled;
    private string? _version;

    public PythonSampleFixture()
    {
        _wheels = new(BuildWheels);
        _default = new(() => Pack("wordcount.xar", ["--console-script", "wordcount"]));
        // With the interpreter, self-contained: needs nothing installed but glibc and /bin/sh.
        _bundled = new(() => Pack("wordcount-bundled", ["--console-script", "wordcount", "--bundle-python", "--self-contained", "--runtime", LauncherBinary.Path]));
        TestEnv.Run("chmod", "0755", _temp.Path).EnsureSuccess("chmod");
    }

    public string this[string relative] => _temp[relative];

    /// <summary>fastcount, xarsample-banner and wordcount as wheels.</summary>
    public string Wheels => _wheels.Value;

    /// <summary>The sample packed with --console-script wordcount.</summary>
    public string Default => _default.Value;

    /// <summary>The sample packed with --bundle-python --self-contained.</summary>
    public string Bundled => _bundled.Value;

    /// <summary>"3.11": the version of <see cref="Python"/>.</summary>
    public string Version => _version ??= TestEnv.Run(Python, "-c", "import sys; print('%d.%d' % sys.version_info[:2])").EnsureSuccess("python3 -V").StandardOutput.Trim();

    /// <summary>A PATH for running the packed apps: Debian's python3.X, not a version manager's shims.</summary>
    public const string RunPath = "/usr/bin:/bin";

    public static void Require()
    {
        TestEnv.Require(File.Exists(Python), $"needs {Python} (python3, python3-pip, python3-setuptools, python3-wheel, python3-dev)");
        TestEnv.RequireTool("gcc");
        TestEnv.RequireTool("mksquashfs");
    }

    /// <summary>
    /// pip's configuration of the machine left out (PIP_CONFIG_FILE=/dev/null is pip's "none", and the PIP_*
    /// variables that add places to look in), so that only what a test names is installed.
    /// </summary>
    public static Dictionary<string, string?> PipEnvironment(IReadOnlyDictionary<string, string?>? more = null)
    {
        var env = new Dictionary<string, string?>
        {
            ["PIP_CONFIG_FILE"] = "/dev/null",
            ["PIP_FIND_LINKS"] = null,
            ["PIP_INDEX_URL"] = null,
            ["PIP_EXTRA_INDEX_URL"] = null,
            ["PIP_CONSTRAINT"] = null,
            ["PIP_REQUIREMENT"] = null,
            ["PIP_DISABLE_PIP_VERSION_CHECK"] = "1",
            ["PIP_ROOT_USER_ACTION"] = "ignore",
        };
        foreach (var (k, v) in more ?? new Dictionary<string, string?>())
            env[k] = v;
        return env;
    }

    /// <summary>`xar python` with the wheels and <paramref name="options"/>: the result, not checked.</summary>
    public ProcessResult Run(string output, IReadOnlyList<string> options, IReadOnlyDictionary<string, string?>? environment = null) =>
        TestEnv.Run(new RunOptions(XarBinary.Path, ["python", "--no-index", "--find-links", Wheels, "wordcount", "-o", output, "--quiet",
            .. options.Contains("--python") ? [] : (string[])["--python", Python], .. options])
        {
            Environment = PipEnvironment(environment),
            TimeoutMs = 600_000,
        });

    public string Pack(string name, IReadOnlyList<string> options)
    {
        string output = _temp[name];
        Run(output, options).EnsureSuccess("xar python " + name);
        return output;
    }

    private string BuildWheels()
    {
        Require();
        string sources = _temp["src"];
        string wheels = _temp["wheels"];
        // A copy: building in tree writes build/ and *.egg-info beside the sources.
        TestEnv.Run("cp", "-r", Path.Combine(TestEnv.RepoRoot, "samples", "python"), sources).EnsureSuccess("cp samples/python");
        TestEnv.Run(new RunOptions(Python, ["-m", "pip", "wheel", "--quiet", "--no-index", "--no-build-isolation", "--no-deps", "-w", wheels,
            Path.Combine(sources, "fastcount"), Path.Combine(sources, "banner"), Path.Combine(sources, "wordcount")])
        {
            Environment = PipEnvironment(),
            TimeoutMs = 600_000,
        }).EnsureSuccess("pip wheel samples/python");
        return wheels;
    }

    public void Dispose() => _temp.Dispose();
}

/// <summary>`xar python`: the packed sample runs mounted, extracted and self-contained, from precompiled modules only.</summary>
[System.Runtime.Versioning.SupportedOSPlatform("linux")]
public class PythonFrontEndTests(PythonSampleFixture sample) : IClassFixture<PythonSampleFixture>
{
    private static Dictionary<string, string?> WithRunPath(Dictionary<string, string?> env)
    {
        env["PATH"] = PythonSampleFixture.RunPath;
        return env;
    }

    [SkippableTheory]
    [InlineData(LaunchMode.Mount)]
    [InlineData(LaunchMode.ForcedExtract)]
    public void ConsoleScriptRunsWithItsDependencies(LaunchMode mode)
    {
        LaunchModes.Require(mode);
        PythonSampleFixture.Require();
        using var s = new LauncherSandbox();
        string xar = sample.Default;
        var env = WithRunPath(LaunchModes.Environment(mode, s));
        var about = s.Run(xar, ["--about"], env);
        LaunchAssert.Succeeded(about);
        string root = LaunchModes.ExpectedRoot(mode, s, Xar.Runtime.XarHeader.ReadFromFile(xar).Uuid);
        Assert.Equal(
            "wordcount 2.0.1 (fastcount 1.2.0, xarsample-banner 0.3.0)\n" +
            $"argv0: {xar}\n" +
            $"fastcount: {root}/site-packages/fastcount.cpython-{sample.Version.Replace(".", "")}-{TestEnv.Multiarch}.so\n" +
            "namespace: xarsample from nspkg.pth\n" +
            "console scripts: wordcount\n",
            about.StandardOutput);
        var count = s.Run(xar, ["the", "cat", "and", "the", "hat", "saw", "the", "cat"], env);
        LaunchAssert.Succeeded(count);
        Assert.Equal("+---------------------+\n| 8 words, 3 distinct |\n+---------------------+\n2 cat\n1 hat\n1 saw\n", count.StandardOutput);
        if (mode == LaunchMode.ForcedExtract)
        {
            // The cache entry is read-only: the app cannot change its own files (nor write .pyc beside them).
            var writable = TestEnv.Run("find", root, "-perm", "/222").EnsureSuccess("find").StandardOutput;
            Assert.Equal("", writable);
        }
        // multiprocessing's spawn starts a fresh interpreter that runs boot again as __mp_main__ (not the app).
        var spawned = s.Run(xar, ["--spawn", "a", "b", "c"], env);
        LaunchAssert.Succeeded(spawned);
        Assert.Equal("spawned: 3\n", spawned.StandardOutput);
        // main()'s return is the exit status, as sys.exit makes it.
        Assert.Equal(7, s.Run(xar, ["--exit", "7"], env).ExitCode);
    }

    [SkippableFact]
    public void EntryPointRunsAModuleAsMainOrCallsAFunction()
    {
        LaunchModes.Require(LaunchMode.ForcedExtract);
        PythonSampleFixture.Require();
        using var s = new LauncherSandbox();
        var env = WithRunPath(LaunchModes.Environment(LaunchMode.ForcedExtract, s));
        string asMain = sample.Pack("module.xar", ["--entry-point", "wordcount"]);
        var r = s.Run(asMain, ["--about"], env);
        LaunchAssert.Succeeded(r);
        Assert.Contains($"argv0: {asMain}\n", r.StandardOutput);
        Assert.Equal(3, s.Run(asMain, ["--exit", "3"], env).ExitCode);
        string function = sample.Pack("function.xar", ["--entry-point", "wordcount.cli:main"]);
        r = s.Run(function, ["a", "dog", "a", "dog"], env);
        LaunchAssert.Succeeded(r);
        Assert.Contains("| 4 words, 1 distinct |", r.StandardOutput);
    }

    /// <summary>pip's options, xar's options around them, and after "--" those spelled like xar's (pip's -c is --constraint).</summary>
    [SkippableFact]
    public void PipArgumentsGoToPipInOrder()
    {
        LaunchModes.Require(LaunchMode.ForcedExtract);
        PythonSampleFixture.Require();
        string constraints = sample["constraints.txt"];
        File.WriteAllText(constraints, "fastcount==1.2.0\n");
        string xar = sample["dashdash.xar"];
        TestEnv.Run(new RunOptions(XarBinary.Path, ["python", "-o", xar, "--no-index", "--console-script", "wordcount", "--find-links=" + sample.Wheels,
            "-q", "--python", PythonSampleFixture.Python, "--", "-c", constraints, "wordcount"]) { Environment = PythonSampleFixture.PipEnvironment(), TimeoutMs = 600_000 }).EnsureSuccess("xar python ... -- -c FILE");
        File.WriteAllText(constraints, "fastcount==9.9\n");
        var r = TestEnv.Run(new RunOptions(XarBinary.Path, ["python", "-o", sample["conflict.xar"], "--no-index", "--find-links", sample.Wheels, "--console-script", "wordcount",
            "--python", PythonSampleFixture.Python, "--", "-c", constraints, "wordcount"]) { Environment = PythonSampleFixture.PipEnvironment(), TimeoutMs = 600_000 });
        Assert.Equal(1, r.ExitCode);
        Assert.StartsWith("xar: pip install failed (exit status 1): Cannot install wordcount==2.0.1 because these package versions have conflicting dependencies", r.StandardError);
        using var s = new LauncherSandbox();
        var about = s.Run(xar, ["--about"], WithRunPath(LaunchModes.Environment(LaunchMode.ForcedExtract, s)));
        LaunchAssert.Succeeded(about);
        Assert.StartsWith("wordcount 2.0.1 (fastcount 1.2.0, ", about.StandardOutput);
    }

    /// <summary>
    /// Under strace, a mounted run opens no .py of the image (every module comes from its .pyc, not even the source
    /// is read to check it) and tries no write there: no open for writing or creating, no mkdir.
    /// </summary>
    [SkippableFact]
    public void MountedRunOpensOnlyPrecompiledModulesAndWritesNothing()
    {
        LaunchModes.Require(LaunchMode.Mount);
        PythonSampleFixture.Require();
        TestEnv.RequireTool("strace");
        using var s = new LauncherSandbox();
        string xar = sample.Default;
        var env = WithRunPath(LaunchModes.Environment(LaunchMode.Mount, s));
        LaunchAssert.Succeeded(s.Run(xar, ["--about"], env)); // mounts; the traced run reuses the mount
        string mount = Assert.Single(s.Mounts());
        string log = s["strace.log"];
        // timeout -s KILL: strace -f can hang on the FUSE server (the brief's warning).
        var traced = TestEnv.Run(new RunOptions("timeout", ["-s", "KILL", "60", "strace", "-f", "-qq", "-o", log,
            "-e", "trace=open,openat,openat2,creat,mkdir,mkdirat,rename,renameat,renameat2,unlink,unlinkat",
            LauncherBinary.Path, xar, "--about"])
        { Environment = MergeSandbox(s, env), WorkingDirectory = s.Work, TimeoutMs = 120_000 });
        LaunchAssert.Succeeded(traced);
        Assert.Contains("namespace: xarsample from nspkg.pth", traced.StandardOutput);
        var inImage = File.ReadAllLines(log).Where(l => l.Contains($"\"{mount}/", StringComparison.Ordinal)).ToList();
        Assert.Contains(inImage, l => l.Contains("/site-packages/wordcount/__pycache__/cli.cpython-", StringComparison.Ordinal) && !l.Contains("ENOENT", StringComparison.Ordinal));
        Assert.Contains(inImage, l => l.Contains("/site-packages/fastcount.cpython-", StringComparison.Ordinal));
        Assert.DoesNotContain(inImage, l => l.Contains(".py\"", StringComparison.Ordinal));
        Assert.DoesNotContain(inImage, l => l.Contains("O_WRONLY", StringComparison.Ordinal) || l.Contains("O_RDWR", StringComparison.Ordinal)
            || l.Contains("O_CREAT", StringComparison.Ordinal) || l.Contains("mkdir", StringComparison.Ordinal) || l.Contains("creat(", StringComparison.Ordinal)
            || l.Contains("rename", StringComparison.Ordinal) || l.Contains("unlink", StringComparison.Ordinal));
    }

    private static Dictionary<string, string?> MergeSandbox(LauncherSandbox s, Dictionary<string, string?> env)
    {
        var all = s.Environment();
        foreach (var (k, v) in env)
            all[k] = v;
        return all;
    }

    [SkippableFact]
    public void SameInputsAndSourceDateEpochGiveTheSameBytes()
    {
        PythonSampleFixture.Require();
        var epoch = new Dictionary<string, string?> { ["SOURCE_DATE_EPOCH"] = "1700000000" };
        string first = sample["same-1.xar"];
        string second = sample["same-2.xar"];
        sample.Run(first, ["--console-script", "wordcount"], epoch).EnsureSuccess("xar python (1)");
        Thread.Sleep(1100); // a second later: file times would differ if the epoch did not set them
        sample.Run(second, ["--console-script", "wordcount"], epoch).EnsureSuccess("xar python (2)");
        Assert.True(File.ReadAllBytes(first).AsSpan().SequenceEqual(File.ReadAllBytes(second)), "two builds with SOURCE_DATE_EPOCH differ");
    }

    /// <summary>
    /// In a mount namespace where python3.X (and its standard library) is hidden: the default build stops before the
    /// app with one line naming the interpreter it needs (127); the --bundle-python --self-contained build runs, with
    /// xar and its launcher hidden too.
    /// </summary>
    [SkippableFact]
    public void WithoutTheInterpreterOnlyTheBundledBuildRuns()
    {
        LaunchModes.Require(LaunchMode.Mount);
        PythonSampleFixture.Require();
        TestEnv.RequireTool("unshare");
        using var s = new LauncherSandbox();
        string name = "python" + sample.Version;
        string script = $"""
            if [ -s "$(command -v {name} || echo /dev/null)" ]; then echo "{name} still there"; exit 1; fi
            "$LAUNCHER" "$DEFAULT" --about; echo "default: $?"
            "$BUNDLED" --about; echo "bundled: $?"
            "$BUNDLED" the end; echo "bundled: $?"
            """;
        var env = s.Environment();
        env["PATH"] = PythonSampleFixture.RunPath;
        env["LAUNCHER"] = LauncherBinary.Path;
        env["DEFAULT"] = sample.Default;
        env["BUNDLED"] = sample.Bundled;
        var r = new HiddenTools(s).Programs(name).Directories($"/usr/lib/{name}", $"/usr/local/lib/{name}").FoundOnPath("xar", "xarexec", "xarexec_fuse")
            .Run(script, env, timeoutMs: 120_000);
        Assert.True(r.ExitCode == 0, r.StandardError + r.StandardOutput);
        Assert.Equal(
            $"xar: {sample.Default}: needs {name} (Python {sample.Version}, which it was built for) on PATH: install it, or build the file with xar python --bundle-python\n",
            r.StandardError);
        Assert.StartsWith("default: 127\nwordcount 2.0.1 (fastcount 1.2.0, xarsample-banner 0.3.0)\n", r.StandardOutput);
        Assert.Contains($"argv0: {sample.Bundled}\n", r.StandardOutput);
        Assert.Contains("namespace: xarsample from nspkg.pth\n", r.StandardOutput);
        Assert.EndsWith("bundled: 0\n+---------------------+\n| 2 words, 1 distinct |\n+---------------------+\n1 end\nbundled: 0\n", r.StandardOutput);
    }

    /// <summary>
    /// The image is open to every user even under umask 077 (the staging folder around it is 0700): the root 0755, and
    /// what pip installed, the compiled modules, the launcher files and the bundled interpreter a+rX. The mount shows
    /// these modes to every user, and private ones let no one but the packer start the file through FUSE.
    /// </summary>
    [SkippableFact]
    public void ImageIsOpenToEveryUserWhateverTheUmask()
    {
        PythonSampleFixture.Require();
        string output = sample["umask.xar"];
        TestEnv.Run(new RunOptions("sh", ["-c", "umask 077 && exec \"$@\"", "sh", XarBinary.Path, "python", "--no-index", "--find-links", sample.Wheels, "wordcount",
            "-o", output, "--quiet", "--python", PythonSampleFixture.Python, "--console-script", "wordcount", "--bundle-python"])
        { Environment = PythonSampleFixture.PipEnvironment(), TimeoutMs = 600_000 }).EnsureSuccess("xar python under umask 077");
        var lines = TestEnv.Run(XarBinary.Path, "ls", "-l", output).EnsureSuccess("xar ls -l").StandardOutput.Split('\n');
        Assert.StartsWith("drwxr-xr-x ", lines[0]);
        Assert.EndsWith(" squashfs-root", lines[0]);
        Assert.Contains(lines, l => l.StartsWith("-rwxr-xr-x ", StringComparison.Ordinal) && l.EndsWith($" squashfs-root/python/bin/python{sample.Version}", StringComparison.Ordinal));
        Assert.Contains(lines, l => l.StartsWith("-rw-r--r-- ", StringComparison.Ordinal) && l.EndsWith(" squashfs-root/site-packages/wordcount/__init__.py", StringComparison.Ordinal));
        Assert.Empty(ImageModes.NotOpenToEveryUser(output));
    }

    /// <summary>The bundled interpreter's standard library comes without test suites, and with its extension modules' libraries.</summary>
    [SkippableFact]
    public void BundledInterpreterHasItsLibraryWithoutTests()
    {
        PythonSampleFixture.Require();
        string xar = sample.Bundled;
        var ls = TestEnv.Run(XarBinary.Path, "ls", xar).EnsureSuccess("xar ls").StandardOutput.Split('\n');
        string stdlib = $"squashfs-root/python/lib/python{sample.Version}";
        Assert.Contains($"squashfs-root/python/bin/python{sample.Version}", ls);
        Assert.Contains($"{stdlib}/os.py", ls);
        Assert.Contains(ls, l => l.StartsWith($"{stdlib}/__pycache__/os.cpython-", StringComparison.Ordinal));
        Assert.Contains(ls, l => l.StartsWith($"{stdlib}/lib-dynload/_ssl.cpython-", StringComparison.Ordinal));
        Assert.Contains("squashfs-root/python/lib/libssl.so.3", ls);
        Assert.DoesNotContain(ls, l => l.StartsWith("squashfs-root/python/lib/libc.so", StringComparison.Ordinal));
        Assert.DoesNotContain(ls, l => l.Contains("/test/", StringComparison.Ordinal) || l.Contains("/tests/", StringComparison.Ordinal) || l.Contains("/idle_test/", StringComparison.Ordinal));
        Assert.DoesNotContain(ls, l => l.EndsWith(".cpython-" + sample.Version.Replace(".", "") + ".opt-1.pyc", StringComparison.Ordinal));
    }

    /// <summary>
    /// --bundle-python with a shared-library interpreter whose executable names its lib folder in DT_RUNPATH (as pyenv's
    /// and python.org's --enable-shared builds do; here one built against Debian's libpython, in a folder of the test).
    /// The app's child Python (subprocess of sys.executable) has no LD_LIBRARY_PATH (boot.py takes it back out), so it
    /// loaded libpython from that folder on the packer's machine, or, once it was gone, the system's. Now the bundled
    /// files name the image's python/lib relative to themselves: parent and child load the image's libpython with that
    /// folder removed.
    /// </summary>
    [SkippableFact]
    public void BundledSharedInterpreterLoadsItsLibraryFromTheImageInChildProcesses()
    {
        LaunchModes.Require(LaunchMode.ForcedExtract);
        PythonSampleFixture.Require();
        string[] config = TestEnv.Run(PythonSampleFixture.Python, "-c",
            "import sysconfig as s; print(s.get_path('include')); print(s.get_config_var('LIBDIR') + '/' + (s.get_config_var('INSTSONAME') or ''))")
            .EnsureSuccess("sysconfig").StandardOutput.Split('\n');
        TestEnv.Require(File.Exists(Path.Combine(config[0], "Python.h")) && File.Exists(config[1]), $"needs the Python headers and {config[1]} (Debian: python3-dev)");
        string work = sample["shared-" + Guid.NewGuid().ToString("N")];
        string lib = Path.Combine(work, "lib"), bin = Path.Combine(work, "bin"), name = "python" + sample.Version;
        Directory.CreateDirectory(lib);
        Directory.CreateDirectory(bin);
        File.Copy(config[1], Path.Combine(lib, Path.GetFileName(config[1])));
        File.WriteAllText(Path.Combine(work, "main.c"), "#include <Python.h>\nint main(int argc, char **argv) { return Py_BytesMain(argc, argv); }\n");
        TestEnv.Run("gcc", "-o", Path.Combine(bin, name), Path.Combine(work, "main.c"), "-I", config[0], Path.Combine(lib, Path.GetFileName(config[1])),
            "-Wl,--enable-new-dtags,-rpath," + lib).EnsureSuccess("gcc");
        string project = Path.Combine(work, "childlib");
        Directory.CreateDirectory(Path.Combine(project, "childlib"));
        File.WriteAllText(Path.Combine(project, "pyproject.toml"), "[build-system]\nrequires = [\"setuptools\"]\nbuild-backend = \"setuptools.build_meta\"\n\n[project]\nname = \"childlib\"\nversion = \"1.0\"\n");
        File.WriteAllText(Path.Combine(project, "childlib", "__main__.py"), """
            import subprocess, sys
            code = "print([l.split()[-1] for l in open('/proc/self/maps') if 'libpython' in l][0])"
            exec(code)
            sys.stdout.flush()
            sys.exit(subprocess.run([sys.executable, "-c", code]).returncode)
            """);
        string output = Path.Combine(work, "child.xar");
        TestEnv.Run(new RunOptions(XarBinary.Path, ["python", "--no-index", "--no-build-isolation", project, "-o", output, "--quiet",
            "--python", Path.Combine(bin, name), "--entry-point", "childlib", "--bundle-python"])
        { Environment = PythonSampleFixture.PipEnvironment(), TimeoutMs = 600_000 }).EnsureSuccess("xar python --bundle-python");
        Directory.Delete(lib, recursive: true); // as on another machine
        using var s = new LauncherSandbox();
        var r = s.Run(output, [], WithRunPath(LaunchModes.Environment(LaunchMode.ForcedExtract, s)));
        LaunchAssert.Succeeded(r);
        string[] loaded = r.StandardOutput.Split('\n', StringSplitOptions.RemoveEmptyEntries);
        Assert.Equal(2, loaded.Length);
        Assert.EndsWith("/python/lib/" + Path.GetFileName(config[1]), loaded[0]);
        Assert.Equal(loaded[0], loaded[1]);
    }
}

/// <summary>
/// `xar python` refusing bad input (exit 2) and reporting failures (exit 1) in one line, an existing OUT left as it
/// was and no staging folder left behind ($TMPDIR is the test's own and must be empty afterwards).
/// </summary>
[System.Runtime.Versioning.SupportedOSPlatform("linux")]
public class PythonFrontEndErrorTests(PythonSampleFixture sample) : IClassFixture<PythonSampleFixture>
{
    private (ProcessResult Result, string Out) Fail(string name, params string[] options)
    {
        PythonSampleFixture.Require();
        string output = sample[name + ".xar"];
        File.WriteAllText(output, "keep me\n");
        string tmp = sample["tmp-" + name];
        Directory.CreateDirectory(tmp);
        var r = sample.Run(output, options, new Dictionary<string, string?> { ["TMPDIR"] = tmp });
        Assert.Equal("keep me\n", File.ReadAllText(output));
        Assert.Empty(Directory.EnumerateFileSystemEntries(tmp));
        string err = r.StandardError.TrimEnd('\n');
        Assert.StartsWith("xar: ", err);
        Assert.DoesNotContain('\n', err);
        Assert.DoesNotContain("   at ", err);
        return (r, err);
    }

    [SkippableFact]
    public void NoEntryGivenIsBadUsage()
    {
        var (r, err) = Fail("no-entry");
        Assert.Equal(2, r.ExitCode);
        Assert.Contains("--console-script NAME or --entry-point MODULE[:FUNC]", err);
    }

    [SkippableFact]
    public void BothEntriesGivenIsBadUsage()
    {
        var (r, err) = Fail("both", "--console-script", "wordcount", "--entry-point", "wordcount");
        Assert.Equal(2, r.ExitCode);
        Assert.Contains("exclude each other", err);
    }

    [SkippableFact]
    public void UnknownConsoleScriptIsBadInputAndNamesTheOnesThereAre()
    {
        var (r, err) = Fail("no-script", "--console-script", "wordcounter");
        Assert.Equal(2, r.ExitCode);
        Assert.Equal("xar: --console-script wordcounter: no such console script in what pip installed (there are: wordcount)", err);
    }

    [SkippableTheory]
    [InlineData("wordcount.missing", "no module named wordcount.missing")]
    [InlineData("nosuchmodule:main", "no module named nosuchmodule")]
    [InlineData("wordcount.cli:mian", "wordcount.cli has no mian")]
    [InlineData("xarsample", "xarsample is a package without a __main__ module")]
    public void EntryPointThatIsNotThereIsBadInput(string entry, string message)
    {
        var (r, err) = Fail("no-entry-point", "--entry-point", entry);
        Assert.Equal(2, r.ExitCode);
        Assert.Contains(message, err);
    }

    [SkippableFact]
    public void MalformedEntryPointIsBadUsage()
    {
        var (r, err) = Fail("bad-entry-point", "--entry-point", "word-count:main");
        Assert.Equal(2, r.ExitCode);
        Assert.Contains("is not MODULE or MODULE:FUNC", err);
    }

    [SkippableTheory]
    [InlineData("--target", "--target")]
    [InlineData("--prefix=/tmp/elsewhere", "--prefix")]
    [InlineData("--user", "--user")]
    [InlineData("-e", "-e")]
    public void PipOptionsThatChooseWhereToInstallAreRefused(string option, string named)
    {
        var (r, err) = Fail("where", "--console-script", "wordcount", "--", option, "/tmp/elsewhere");
        Assert.Equal(2, r.ExitCode);
        Assert.Equal($"xar: pip's {named} is xar's to decide: pip installs into the image (--target of a staging folder), as a regular install; leave {named} out", err);
    }

    /// <summary>pip accepts any unique prefix of a long option and grouped short flags: those that say where to install are refused too.</summary>
    [SkippableTheory]
    [InlineData("--targ", "--targ (--target)", "--targ")]
    [InlineData("--ed=/tmp/elsewhere", "--ed (--editable)", "--ed")]
    [InlineData("--prefi", "--prefi (--prefix)", "--prefi")]
    [InlineData("-Ut", "-t (in -Ut)", "-Ut")]
    [InlineData("-qe/tmp/elsewhere", "-e (in -qe/tmp/elsewhere)", "-qe/tmp/elsewhere")]
    public void AbbreviatedOrGroupedPipOptionsThatChooseWhereToInstallAreRefused(string option, string named, string given)
    {
        var (r, err) = Fail("where-abbreviated", "--console-script", "wordcount", "--", option, "/tmp/elsewhere");
        Assert.Equal(2, r.ExitCode);
        Assert.Equal($"xar: pip's {named} is xar's to decide: pip installs into the image (--target of a staging folder), as a regular install; leave {given} out", err);
    }

    /// <summary>
    /// OUT that is a file pip reads (the requirements file, a wheel in the --find-links folder) is refused before pip
    /// runs (exit 2) and left as it was: the rename at the end would replace it.
    /// </summary>
    [SkippableFact]
    public void OutputThatIsAnInputOfPipIsRefused()
    {
        PythonSampleFixture.Require();
        string links = sample["links-" + Guid.NewGuid().ToString("N")];
        TestEnv.Run("cp", "-r", sample.Wheels, links).EnsureSuccess("cp wheels");
        string requirements = Path.Combine(links, "requirements.txt");
        File.WriteAllText(requirements, "wordcount\n");
        string wheel = Directory.EnumerateFiles(links, "wordcount-*.whl").Single();
        byte[] wheelBytes = File.ReadAllBytes(wheel);
        string tmp = sample["tmp-out-is-input"];
        Directory.CreateDirectory(tmp);
        foreach (var (output, args, message) in new (string, string[], string)[]
        {
            (requirements, ["-r", requirements], $"xar: {requirements}: is pip's input {requirements}: packing would replace a file it reads (write OUT elsewhere)"),
            (requirements, ["--requirement=" + requirements], $"xar: {requirements}: is pip's input {requirements}: packing would replace a file it reads"),
            (wheel, [wheel], $"xar: {wheel}: is pip's input {wheel}: packing would replace a file it reads"),
            (wheel, ["--find-links", links, "wordcount"], $"xar: {wheel}: exists inside pip's input {links}: packing would replace a file it packs"),
        })
        {
            var r = TestEnv.Run(new RunOptions(XarBinary.Path, ["python", "--no-index", .. args, "-o", output, "--python", PythonSampleFixture.Python, "--console-script", "wordcount"])
            { Environment = PythonSampleFixture.PipEnvironment(new Dictionary<string, string?> { ["TMPDIR"] = tmp }), TimeoutMs = 600_000 });
            Assert.True(r.ExitCode == 2, $"exit {r.ExitCode}: {r.StandardError}");
            Assert.StartsWith(message, r.StandardError);
            Assert.Single(r.StandardError.TrimEnd('\n').Split('\n'));
            Assert.Equal("wordcount\n", File.ReadAllText(requirements));
            Assert.Equal(wheelBytes, File.ReadAllBytes(wheel));
        }
        Assert.Empty(Directory.EnumerateFileSystemEntries(tmp));
    }

    /// <summary>
    /// OUT that is a file or inside a folder that a requirements or constraints file names (a wheel by path or file: URL, a
    /// --find-links folder, a project folder, a nested -r/-c file, read relative to the file that names it) is refused
    /// before pip runs (exit 2), OUT left as it was and nothing written.
    /// </summary>
    [SkippableFact]
    public void OutputThatARequirementsFileNamesIsRefused()
    {
        PythonSampleFixture.Require();
        string work = sample["named-" + Guid.NewGuid().ToString("N")];
        string links = Path.Combine(work, "links");
        Directory.CreateDirectory(work);
        TestEnv.Run("cp", "-r", sample.Wheels, links).EnsureSuccess("cp wheels");
        string wheel = Directory.EnumerateFiles(links, "wordcount-*.whl").Single();
        byte[] wheelBytes = File.ReadAllBytes(wheel);
        Directory.CreateDirectory(Path.Combine(work, "proj"));
        string setup = Path.Combine(work, "proj", "setup.py");
        File.WriteAllText(setup, "keep me\n");
        string top = Path.Combine(work, "requirements.txt"), nested = Path.Combine(work, "more", "nested.txt"), constraints = Path.Combine(work, "more", "constraints.txt");
        Directory.CreateDirectory(Path.GetDirectoryName(nested)!);
        File.WriteAllText(nested, "-c constraints.txt\n");
        File.WriteAllText(constraints, "wordcount==2.0.1\n");
        string tmp = sample["tmp-named-" + Guid.NewGuid().ToString("N")];
        Directory.CreateDirectory(tmp);
        foreach (var (output, lines, message) in new (string, string, string)[]
        {
            (wheel, wheel + "\n", $"xar: {wheel}: is pip's input {wheel} (named in {top}): packing would replace a file it reads"),
            (wheel, $"wordcount @ file://{wheel}\n", $"xar: {wheel}: is pip's input {wheel} (named in {top}): packing would replace a file it reads"),
            (wheel, $"--find-links {links}\nwordcount\n", $"xar: {wheel}: exists inside pip's input {links} (named in {top}): packing would replace a file it packs"),
            (setup, "# the app\n./proj[extra]\n", $"xar: {setup}: exists inside pip's input ./proj (named in {top}): packing would replace a file it packs"),
            (constraints, "-r more/nested.txt\n", $"xar: {constraints}: is pip's input {constraints} (named in {nested}): packing would replace a file it reads"),
        })
        {
            File.WriteAllText(top, lines);
            var r = TestEnv.Run(new RunOptions(XarBinary.Path, ["python", "--no-index", "-r", top, "-o", output, "--python", PythonSampleFixture.Python, "--console-script", "wordcount"])
            { Environment = PythonSampleFixture.PipEnvironment(new Dictionary<string, string?> { ["TMPDIR"] = tmp }), TimeoutMs = 600_000, WorkingDirectory = work });
            Assert.True(r.ExitCode == 2, $"{lines}: exit {r.ExitCode}: {r.StandardError}");
            Assert.StartsWith(message, r.StandardError);
            Assert.Single(r.StandardError.TrimEnd('\n').Split('\n'));
            Assert.Equal(wheelBytes, File.ReadAllBytes(wheel));
            Assert.Equal("keep me\n", File.ReadAllText(setup));
            Assert.Equal("wordcount==2.0.1\n", File.ReadAllText(constraints));
        }
        Assert.Empty(Directory.EnumerateFileSystemEntries(tmp));
    }

    /// <summary>
    /// An editable install asked for where xar's own -e check does not look (a line "-e ./wordcount" in a requirements
    /// file) is refused once pip has made it: the image would hold a pointer to the project's folder on this machine
    /// (PEP 610's direct_url.json says "editable"), not its code. Exit 2, one line naming the folder, OUT as it was,
    /// nothing left.
    /// </summary>
    [SkippableFact]
    public void EditableInstallFromARequirementsFileIsRefused()
    {
        PythonSampleFixture.Require();
        string work = sample["editable-" + Guid.NewGuid().ToString("N")];
        Directory.CreateDirectory(work);
        TestEnv.Run("cp", "-r", Path.Combine(TestEnv.RepoRoot, "samples", "python", "wordcount"), Path.Combine(work, "wordcount")).EnsureSuccess("cp wordcount");
        File.WriteAllText(Path.Combine(work, "requirements.txt"), "-e ./wordcount\n");
        string output = Path.Combine(work, "app.xar");
        File.WriteAllText(output, "keep me\n");
        string tmp = sample["tmp-editable-" + Guid.NewGuid().ToString("N")];
        Directory.CreateDirectory(tmp);
        var r = TestEnv.Run(new RunOptions(XarBinary.Path, ["python", "--no-index", "--no-build-isolation", "--find-links", sample.Wheels, "-r", "requirements.txt",
            "-o", output, "--quiet", "--python", PythonSampleFixture.Python, "--console-script", "wordcount"])
        { Environment = PythonSampleFixture.PipEnvironment(new Dictionary<string, string?> { ["TMPDIR"] = tmp }), TimeoutMs = 600_000, WorkingDirectory = work });
        Assert.True(r.ExitCode == 2, $"exit {r.ExitCode}: {r.StandardError}");
        string line = r.StandardError.TrimEnd('\n');
        Assert.StartsWith($"xar: pip installed wordcount-2.0.1 editable (a pointer to file://{work}/wordcount): ", line);
        Assert.DoesNotContain('\n', line);
        Assert.Equal("keep me\n", File.ReadAllText(output));
        Assert.Empty(Directory.EnumerateFileSystemEntries(tmp));
    }

    /// <summary>An --exclude that leaves out what the entrypoint needs (the boot module, site-packages) is refused before pip runs.</summary>
    [SkippableTheory]
    [InlineData("__pycache__", "--exclude __pycache__: leaves out xar-python/__pycache__, which the app needs to start (xar-python/__pycache__/boot.cpython-")]
    [InlineData("*.pyc", "--exclude *.pyc: leaves out xar-python/__pycache__/boot.cpython-")]
    [InlineData("site-packages", "--exclude site-packages: leaves out site-packages, which the app needs to start")]
    [InlineData("xar-python", "--exclude xar-python: leaves out xar-python, which the app needs to start (xar-python/__pycache__/boot.cpython-")]
    public void ExcludingWhatTheEntrypointNeedsIsRefused(string pattern, string message)
    {
        var (r, err) = Fail("exclude-needed", "--console-script", "wordcount", "--exclude", pattern);
        Assert.Equal(2, r.ExitCode);
        Assert.StartsWith("xar: " + message, err);
    }

    /// <summary>A requirement that is nowhere (--no-index): pip's first line, which says what was looked for and found.</summary>
    [SkippableFact]
    public void PipFailingIsAFailureInItsOwnWords()
    {
        var (r, err) = Fail("pip-fails", "no-such-distribution-anywhere", "--console-script", "wordcount");
        Assert.Equal(1, r.ExitCode);
        Assert.Equal("xar: pip install failed (exit status 1): Could not find a version that satisfies the requirement no-such-distribution-anywhere (from versions: none)", err);
    }

    /// <summary>A local project for pip: setup.py and, when given, a C source of an extension module.</summary>
    private string LocalProject(string name, string setup, string? extension = null)
    {
        string dir = sample[$"projects-{Guid.NewGuid():N}/{name}"];
        Directory.CreateDirectory(dir);
        File.WriteAllText(Path.Combine(dir, "setup.py"), setup);
        if (extension is not null)
            File.WriteAllText(Path.Combine(dir, "ext.c"), extension);
        return dir;
    }

    /// <summary>
    /// pip's failures with local, offline inputs, each on one line that names the cause pip printed, not only that it
    /// failed: the conflict behind ResolutionImpossible, a path that is not there, and a build that failed (the
    /// compiler's first error; the exception setup.py raised).
    /// </summary>
    [SkippableFact]
    public void PipFailingNamesTheCause()
    {
        PythonSampleFixture.Require();
        string conflict = LocalProject("xarconflict", "from setuptools import setup\nsetup(name='xarconflict', version='1.0', install_requires=['fastcount<1.0'], py_modules=[])\n");
        string broken = LocalProject("xarbroken", "from setuptools import setup, Extension\nsetup(name='xarbroken', version='1.0', ext_modules=[Extension('ext', ['ext.c'])])\n", "int broken = ;\n");
        string raising = LocalProject("xarraising", "raise RuntimeError('xarraising cannot be configured here')\n");
        foreach (var (args, expected) in new (string[], string[])[]
        {
            ([conflict], ["Cannot install wordcount==2.0.1 and xarconflict==1.0 because these package versions have conflicting dependencies: ", "xarconflict 1.0 depends on fastcount<1.0"]),
            (["./no-such-project"], ["Invalid requirement: './no-such-project'", "File './no-such-project' does not exist"]),
            (["/no/such/dir/x-1.0-py3-none-any.whl"], ["No such file or directory: '/no/such/dir/x-1.0-py3-none-any.whl'"]),
            ([broken], ["Failed building wheel for xarbroken: ", "ext.c:1:14: error: expected expression before "]),
            ([raising], [$"{raising}: python setup.py egg_info failed: RuntimeError: xarraising cannot be configured here"]),
        })
        {
            var (r, err) = Fail("pip-cause", ["--console-script", "wordcount", "--", "--no-build-isolation", .. args]);
            Assert.True(r.ExitCode == 1, $"{args[0]}: exit {r.ExitCode}: {err}");
            Assert.StartsWith("xar: pip install failed (exit status 1): ", err);
            foreach (string part in expected)
                Assert.Contains(part, err);
            Assert.DoesNotContain("for help visit", err);
            Assert.DoesNotContain("See above", err);
        }
    }

    [SkippableFact]
    public void SomethingElseThanPythonIsBadInput()
    {
        var (r, err) = Fail("not-python", "--console-script", "wordcount", "--python", "/bin/true");
        Assert.Equal(2, r.ExitCode);
        Assert.StartsWith("xar: /bin/true: is not a Python 3 interpreter xar can use", err);
    }

    /// <summary>An interpreter without pip (here Debian's, started with -S: its pip lives in the system site-packages).</summary>
    [SkippableFact]
    public void InterpreterWithoutPipIsAFailure()
    {
        string fake = sample["python-without-pip"];
        File.WriteAllText(fake, $"#!/bin/sh\nexec {PythonSampleFixture.Python} -S \"$@\"\n");
        File.SetUnixFileMode(fake, (UnixFileMode)0b111_101_101);
        var (r, err) = Fail("no-pip", "--console-script", "wordcount", "--python", fake);
        Assert.Equal(1, r.ExitCode);
        Assert.Equal($"xar: {fake} has no pip ({fake} -m pip): install it (Debian: apt-get install python3-pip)", err);
    }

    [SkippableFact]
    public void MissingInterpreterIsBadInput()
    {
        var (r, err) = Fail("no-python", "--console-script", "wordcount", "--python", "/nonexistent/python3");
        Assert.Equal(2, r.ExitCode);
        Assert.Equal("xar: /nonexistent/python3: --python: no such file", err);
    }

    /// <summary>
    /// SIGINT or SIGTERM while pip works (a stand-in interpreter whose pip sleeps): pip is ended, the staging folder
    /// removed, OUT left as it was, exit 1.
    /// </summary>
    [SkippableTheory]
    [InlineData("TERM")]
    [InlineData("INT")]
    public void InterruptedWhilePipWorksLeavesNothing(string signal)
    {
        PythonSampleFixture.Require();
        string work = sample["interrupt-" + signal];
        Directory.CreateDirectory(work);
        string tmp = Path.Combine(work, "tmp");
        Directory.CreateDirectory(tmp);
        string marker = Path.Combine(work, "pip.pid");
        string fake = Path.Combine(work, "python3");
        File.WriteAllText(fake, $"#!/bin/sh\nif [ \"$1\" = -m ] && [ \"$2\" = pip ]; then echo $$ > '{marker}'; exec sleep 120; fi\nexec {PythonSampleFixture.Python} \"$@\"\n");
        File.SetUnixFileMode(fake, (UnixFileMode)0b111_101_101);
        string output = Path.Combine(work, "out.xar");
        File.WriteAllText(output, "keep me\n");
        var start = new System.Diagnostics.ProcessStartInfo(XarBinary.Path)
        {
            RedirectStandardError = true,
            RedirectStandardOutput = true,
            UseShellExecute = false,
        };
        foreach (string a in (string[])["python", "wordcount", "-o", output, "--console-script", "wordcount", "--python", fake])
            start.ArgumentList.Add(a);
        start.Environment["TMPDIR"] = tmp;
        using var xar = System.Diagnostics.Process.Start(start)!;
        var stderr = xar.StandardError.ReadToEndAsync();
        for (int i = 0; i < 600 && !(File.Exists(marker) && File.ReadAllText(marker).EndsWith('\n')); i++)
            Thread.Sleep(100);
        Assert.True(File.Exists(marker), "the stand-in pip never started");
        int pip = int.Parse(File.ReadAllText(marker).Trim(), System.Globalization.CultureInfo.InvariantCulture);
        TestEnv.Run("kill", "-" + signal, xar.Id.ToString(System.Globalization.CultureInfo.InvariantCulture)).EnsureSuccess("kill");
        Assert.True(xar.WaitForExit(60_000), "xar python did not end after SIG" + signal);
        Assert.Equal(1, xar.ExitCode);
        Assert.Equal("xar: interrupted\n", stderr.Result);
        Assert.Equal("keep me\n", File.ReadAllText(output));
        Assert.Empty(Directory.EnumerateFileSystemEntries(tmp));
        Assert.False(Directory.Exists($"/proc/{pip}") && !File.ReadAllText($"/proc/{pip}/stat").Contains(") Z ", StringComparison.Ordinal), "pip still runs");
    }
}
