using System.Diagnostics;
using System.Runtime.InteropServices;
using System.Security.Cryptography;
using System.Text;

namespace Xar.Tests;

/// <summary>Where things are and what this machine can do, for every test project.</summary>
public static partial class TestEnv
{
    /// <summary>In CI nothing may be skipped: a missing tool or privilege fails the test instead.</summary>
    public static bool IsCI => Environment.GetEnvironmentVariable("CI") == "true";

    public static bool IsRoot => geteuid() == 0;

    [LibraryImport("libc")]
    private static partial uint geteuid();

    public static string RepoRoot { get; } = FindRepoRoot();

    /// <summary>Debian's multiarch triple of this machine (the library directory's name, e.g. x86_64-linux-gnu).</summary>
    public static string Multiarch => RuntimeInformation.OSArchitecture switch
    {
        Architecture.X64 => "x86_64-linux-gnu",
        Architecture.Arm64 => "aarch64-linux-gnu",
        var other => throw new PlatformNotSupportedException($"no multiarch triple known for {other}"),
    };

    /// <summary>This machine's .NET runtime identifier (linux-x64, linux-arm64).</summary>
    public static string Rid => "linux-" + RuntimeInformation.OSArchitecture.ToString().ToLowerInvariant();

    /// <summary>glibc's dynamic loader as ldd names it on this machine.</summary>
    public static string DynamicLoader => RuntimeInformation.OSArchitecture switch
    {
        Architecture.X64 => "/lib64/ld-linux-x86-64.so.2",
        Architecture.Arm64 => "/lib/ld-linux-aarch64.so.1",
        var other => throw new PlatformNotSupportedException($"no dynamic loader known for {other}"),
    };

    /// <summary>bench/corpus.sh: builds the benchmark and test corpora.</summary>
    public static string CorpusScript => Path.Combine(RepoRoot, "bench", "corpus.sh");

    private static string FindRepoRoot()
    {
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
            if (File.Exists(Path.Combine(dir.FullName, "Xar.sln")))
                return dir.FullName;
        throw new InvalidOperationException("Xar.sln not found above " + AppContext.BaseDirectory);
    }

    /// <summary>Skips the test outside CI when <paramref name="condition"/> is false; fails it in CI.</summary>
    public static void Require(bool condition, string reason)
    {
        if (condition)
            return;
        if (IsCI)
            throw new InvalidOperationException($"CI=true and a test prerequisite is missing: {reason}");
        Skip.If(true, reason);
    }

    public static void RequireRoot() => Require(IsRoot, "needs root");

    public static void RequireTool(string tool) => Require(FindTool(tool) is not null, $"needs {tool} on PATH");

    public static void RequireFuse() => Require(File.Exists("/dev/fuse") && FindTool("squashfuse_ll") is not null, "needs /dev/fuse and squashfuse_ll");

    public static string? FindTool(string tool)
    {
        foreach (var dir in (Environment.GetEnvironmentVariable("PATH") ?? "").Split(':', StringSplitOptions.RemoveEmptyEntries))
        {
            string p = Path.Combine(dir, tool);
            if (File.Exists(p))
                return p;
        }
        foreach (var dir in new[] { "/usr/sbin", "/sbin", "/usr/bin", "/bin" })
        {
            string p = Path.Combine(dir, tool);
            if (File.Exists(p))
                return p;
        }
        return null;
    }

    public static ProcessResult Run(string file, params string[] args) => Run(new RunOptions(file, args));

    public static ProcessResult Run(RunOptions options)
    {
        var psi = new ProcessStartInfo(options.File)
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            RedirectStandardInput = true,
            UseShellExecute = false,
            WorkingDirectory = options.WorkingDirectory ?? Environment.CurrentDirectory,
        };
        foreach (var a in options.Arguments)
            psi.ArgumentList.Add(a);
        if (options.Environment is not null)
            foreach (var (k, v) in options.Environment)
            {
                if (v is null)
                    psi.Environment.Remove(k);
                else
                    psi.Environment[k] = v;
            }
        using var p = Process.Start(psi) ?? throw new InvalidOperationException("cannot start " + options.File);
        var stdout = new MemoryStream();
        var outTask = p.StandardOutput.BaseStream.CopyToAsync(stdout);
        var errTask = p.StandardError.ReadToEndAsync();
        if (options.StandardInput is not null)
            p.StandardInput.BaseStream.Write(options.StandardInput);
        p.StandardInput.Close();
        if (!p.WaitForExit(options.TimeoutMs))
        {
            try { p.Kill(entireProcessTree: true); } catch (InvalidOperationException) { }
            p.WaitForExit();
            throw new TimeoutException($"{options.File} {string.Join(' ', options.Arguments)} ran longer than {options.TimeoutMs} ms");
        }
        p.WaitForExit();
        outTask.Wait();
        return new ProcessResult(p.ExitCode, stdout.ToArray(), errTask.Result);
    }

    /// <summary>
    /// The published program <paramref name="name"/> ($XAR_BIN, set by `make test`) copied into
    /// <paramref name="directory"/> with mode 0755, so another user (nobody) can run it wherever
    /// the checkout lives. The directory's parents must be reachable too.
    /// </summary>
    public static string PublishedProgramForAnyUser(string name, string directory)
    {
        string? bin = Environment.GetEnvironmentVariable("XAR_BIN");
        Require(bin is not null && File.Exists(System.IO.Path.Combine(bin, name)), $"needs XAR_BIN with {name} (make test)");
        Directory.CreateDirectory(directory);
        string copy = System.IO.Path.Combine(directory, name);
        File.Copy(System.IO.Path.Combine(bin!, name), copy, overwrite: true);
        Run("chmod", "0755", directory, copy).EnsureSuccess("chmod");
        return copy;
    }

    /// <summary>
    /// For tests that run xar as other users: xar and xarexec copied into <paramref name="directory"/>'s bin/ (0755, the
    /// directory made 0755 too), and app.xar there, packed from a tree whose one program, run, is
    /// <paramref name="script"/>. Returns xar's copy and the XAR.
    /// </summary>
    [System.Runtime.Versioning.SupportedOSPlatform("linux")]
    public static (string Xar, string App) ProgramsAndAppForAnyUser(string directory, string script)
    {
        Run("chmod", "0755", directory).EnsureSuccess("chmod");
        string programs = System.IO.Path.Combine(directory, "bin");
        string xar = PublishedProgramForAnyUser("xar", programs);
        PublishedProgramForAnyUser("xarexec", programs);
        string tree = System.IO.Path.Combine(directory, "tree");
        Directory.CreateDirectory(tree);
        File.WriteAllText(System.IO.Path.Combine(tree, "run"), script);
        File.SetUnixFileMode(System.IO.Path.Combine(tree, "run"), (UnixFileMode)0x1ED);
        string app = System.IO.Path.Combine(directory, "app.xar");
        Run(xar, "pack", tree, "-o", app, "--exec", "run", "--quiet").EnsureSuccess("xar pack");
        return (xar, app);
    }

    /// <summary>
    /// Fails the test with the comparer's report unless the two sides hold exactly the same files
    /// (<see cref="TreeComparer"/>; options as in <see cref="TreeCompareOptions"/>).
    /// XAR_TREEDIFF_CROSSCHECK=SCRIPT also runs SCRIPT [options] A B (a treediff.sh-style checker,
    /// exit 0 when identical) and fails when its verdict differs from ours (treediff.sh cannot read
    /// paths beyond PATH_MAX, so LongPathTests fails that cross-check by design).
    /// </summary>
    public static void AssertTreesEqual(string a, string b, params string[] options)
    {
        var result = TreeComparer.Compare(a, b, options);
        if (Environment.GetEnvironmentVariable("XAR_TREEDIFF_CROSSCHECK") is { Length: > 0 } script)
        {
            var r = Run(new RunOptions("bash", [script, .. options, a, b]) { TimeoutMs = 600_000 });
            if ((r.ExitCode == 0) != result.Identical)
                throw new Xunit.Sdk.XunitException(
                    $"verdicts differ on {string.Join(' ', options)} {a} {b}: ours {(result.Identical ? "identical" : "different")}, {script} exit {r.ExitCode}\n" +
                    $"{result.Report}\n{r.StandardOutput}\n{r.StandardError}");
        }
        if (!result.Identical)
            throw new Xunit.Sdk.XunitException($"trees differ: {string.Join(' ', options)} {a} {b}\n{result.Report}");
    }
}

public sealed record RunOptions(string File, IReadOnlyList<string> Arguments)
{
    public IReadOnlyDictionary<string, string?>? Environment { get; init; }
    public byte[]? StandardInput { get; init; }
    public string? WorkingDirectory { get; init; }
    public int TimeoutMs { get; init; } = 300_000;
}

public sealed record ProcessResult(int ExitCode, byte[] StandardOutputBytes, string StandardError)
{
    public string StandardOutput => Encoding.UTF8.GetString(StandardOutputBytes);

    public ProcessResult EnsureSuccess(string what)
    {
        if (ExitCode != 0)
            throw new Xunit.Sdk.XunitException($"{what}: exit {ExitCode}\nstdout: {StandardOutput}\nstderr: {StandardError}");
        return this;
    }
}

/// <summary>A fresh directory under the temp folder, removed (even if read-only inside) on dispose.</summary>
public sealed class TempDir : IDisposable
{
    public TempDir(string? prefix = null)
    {
        Path = Directory.CreateTempSubdirectory("xar-test-" + (prefix ?? "")).FullName;
    }

    public string Path { get; }

    public string this[string relative] => System.IO.Path.Combine(Path, relative);

    public void Dispose()
    {
        try
        {
            TestEnv.Run("chmod", "-R", "u+rwX", Path);
            Directory.Delete(Path, recursive: true);
        }
        catch (IOException) { }
        catch (UnauthorizedAccessException) { }
        catch (ArgumentException) { } // what .NET throws for a path beyond PATH_MAX
        // .NET deletes by full path, which fails below PATH_MAX; rm walks by descriptor.
        if (Directory.Exists(Path))
            TestEnv.Run("rm", "-rf", Path);
    }
}

/// <summary>
/// The corpora of bench/corpus.sh, built once per machine into the temp folder (keyed by
/// the script's hash, under a lock, so parallel test projects share one copy) and never committed.
/// </summary>
public static class Corpus
{
    private static readonly object Gate = new();

    public static string Get(string name)
    {
        lock (Gate)
        {
            string script = TestEnv.CorpusScript;
            if (!File.Exists(script))
                throw new InvalidOperationException($"corpus.sh not found at {script}");
            string key = Convert.ToHexString(SHA256.HashData(File.ReadAllBytes(script)))[..12].ToLowerInvariant();
            string root = System.IO.Path.Combine(System.IO.Path.GetTempPath(), $"xar-corpora-{key}-uid{(TestEnv.IsRoot ? 0 : 1)}");
            Directory.CreateDirectory(root);
            string dir = System.IO.Path.Combine(root, name);
            string done = dir + ".done";
            using var lockFile = AcquireLock(System.IO.Path.Combine(root, "lock"));
            if (File.Exists(done))
                return dir;
            if (Directory.Exists(dir))
                TestEnv.Run("rm", "-rf", dir).EnsureSuccess("rm stale corpus");
            var r = TestEnv.Run(new RunOptions("bash", [script, root, name]) { TimeoutMs = 900_000 });
            r.EnsureSuccess($"corpus.sh {name}");
            File.WriteAllText(done, r.StandardOutput);
            return dir;
        }
    }

    private static FileStream AcquireLock(string path)
    {
        var deadline = DateTime.UtcNow.AddMinutes(15);
        while (true)
        {
            try
            {
                return new FileStream(path, FileMode.OpenOrCreate, FileAccess.ReadWrite, FileShare.None);
            }
            catch (IOException) when (DateTime.UtcNow < deadline)
            {
                Thread.Sleep(200);
            }
        }
    }
}
