using System.Buffers.Binary;
using System.Text.RegularExpressions;
using Xar.Tests;

namespace Xar.Launcher.Tests;

/// <summary>
/// `xar pack --self-contained`: one executable (xarexec's ELF bytes, zeros to R, a XAR) that runs on a machine
/// with nothing of xar installed. Runs happen in a mount namespace (unshare -m) where xar, xarexec and
/// squashfuse are covered by /dev/null, under `env -i PATH=/usr/bin:/bin`.
/// </summary>
[System.Runtime.Versioning.SupportedOSPlatform("linux")]
public class SelfContainedTests
{
    private const string Nobody = "65534";

    /// <summary>A program that shows what it got: arguments one per line, OWD, XAR_PATH, stdin; "exit N" and "signal" do what they say.</summary>
    private const string ProbeApp =
        "#!/bin/sh\n" +
        "case \"$1\" in exit) exit \"$2\" ;; signal) kill -TERM $$ ;; esac\n" +
        "for a in \"$@\"; do printf '[%s]\\n' \"$a\"; done\n" +
        "echo \"OWD=$OWD\"\n" +
        "echo \"XAR_PATH=$XAR_PATH\"\n" +
        "echo \"NEW=${XARFUSE_NEW_MOUNT:-0}\"\n" +
        "echo \"STDIN=$(cat)\"\n";

    private sealed class World : IDisposable
    {
        private readonly TempDir _temp = new("selfcontained-");

        public World()
        {
            // Reachable by nobody: the temporary directory itself is 0700.
            TestEnv.Run("chmod", "0755", _temp.Path).EnsureSuccess("chmod");
            Directory.CreateDirectory(MountRoot);
            File.SetUnixFileMode(MountRoot, (UnixFileMode)Convert.ToInt32("1777", 8));
            Directory.CreateDirectory(Work);
            Directory.CreateDirectory(Home);
            Directory.CreateDirectory(_temp["empty"]);
        }

        public string this[string relative] => _temp[relative];
        public string MountRoot => _temp["mnt"];
        public string Work => _temp["work"];
        public string Home => _temp["home"];

        public string Pack(string tree, string exec, string name)
        {
            string output = Path.Combine(Work, name);
            TestEnv.Run(XarBinary.Path, "pack", tree, "-o", output, "--exec", exec, "--self-contained", "--runtime", LauncherBinary.Path, "--quiet").EnsureSuccess("xar pack --self-contained");
            TestEnv.Run("chmod", "0755", Work).EnsureSuccess("chmod");
            return output;
        }

        public string ProbeTree()
        {
            string tree = _temp["probe"];
            Directory.CreateDirectory(tree);
            TestXar.WriteExecutable(Path.Combine(tree, "run"), ProbeApp);
            return tree;
        }

        /// <summary>
        /// <paramref name="commands"/> by sh in a new mount namespace where xar, xarexec and squashfuse are hidden (and
        /// /dev/fuse too, with <paramref name="hideFuse"/>), from the work directory. Mounts made there are unmounted at the end.
        /// </summary>
        public ProcessResult Hidden(string commands, bool hideFuse = false, byte[]? stdin = null)
        {
            var script = new System.Text.StringBuilder("set -u\n");
            foreach (string tool in new[] { "squashfuse", "squashfuse_ll", "xar", "xarexec", "xarexec_fuse" })
                if (TestEnv.FindTool(tool) is { } found)
                    script.Append($"mount --bind /dev/null '{found}'\n");
            string bin = Path.GetDirectoryName(XarBinary.Path)!;
            script.Append($"mount --bind '{_temp["empty"]}' '{bin}'\n");
            script.Append($"mount --bind '{_temp["empty"]}' '{Path.GetDirectoryName(Path.GetFullPath(new FileInfo(XarBinary.Path).ResolveLinkTarget(true)?.FullName ?? XarBinary.Path))}'\n");
            if (hideFuse)
            {
                File.WriteAllBytes(_temp["nofuse"], []);
                File.SetUnixFileMode(_temp["nofuse"], UnixFileMode.UserRead | UnixFileMode.UserWrite);
                script.Append($"mount --bind '{_temp["nofuse"]}' /dev/fuse\n");
            }
            script.Append("if command -v xarexec_fuse >/dev/null 2>&1 && xarexec_fuse -h >/dev/null 2>&1; then echo 'xarexec is not hidden' >&2; exit 99; fi\n");
            script.Append("if /usr/bin/squashfuse_ll --help >/dev/null 2>&1; then echo 'squashfuse_ll is not hidden' >&2; exit 99; fi\n");
            script.Append($"cd '{Work}'\n");
            script.Append(commands).Append('\n');
            script.Append("rc=$?\n");
            script.Append($"for m in $(awk '$3 == \"fuse.xar\" && index($2, \"{MountRoot}/\") == 1 {{ print $2 }}' /proc/self/mounts); do umount -l \"$m\"; done\n");
            script.Append("exit $rc\n");
            return TestEnv.Run(new RunOptions("unshare", ["-m", "--propagation", "private", "sh", "-c", script.ToString()]) { StandardInput = stdin, TimeoutMs = 120_000 });
        }

        /// <summary>The start of a clean environment: nothing but PATH, HOME and what is asked.</summary>
        public string Env(string settings = "") => $"env -i PATH=/usr/bin:/bin HOME='{Home}' {settings}";

        public void Dispose() => _temp.Dispose();
    }

    private static void RequireNamespaces()
    {
        TestEnv.RequireRoot();
        TestEnv.RequireTool("unshare");
    }

    private static long XarStart(string file)
    {
        var head = new byte[64];
        using (var f = File.OpenRead(file))
            f.ReadExactly(head);
        long shoff = BinaryPrimitives.ReadInt64LittleEndian(head.AsSpan(0x28));
        int shentsize = BinaryPrimitives.ReadUInt16LittleEndian(head.AsSpan(0x3A));
        int shnum = BinaryPrimitives.ReadUInt16LittleEndian(head.AsSpan(0x3C));
        return (shoff + shentsize * shnum + 4095) / 4096 * 4096;
    }

    [SkippableTheory]
    [InlineData("hello", "hello", "Hello from inside a XAR!\n")]
    [InlineData("pyapp", "bin/pyapp", "pyapp: ")]
    public void SamplesRunThroughTheirOwnFuseServerWithOneSharedMount(string sample, string exec, string expected)
    {
        RequireNamespaces();
        TestEnv.RequireFuse();
        using var w = new World();
        string app = w.Pack(Path.Combine(TestEnv.RepoRoot, "samples", sample), exec, sample);
        var r = w.Hidden(
            $"{w.Env($"XAR_MOUNT_ROOT='{w.MountRoot}'")} ./{sample} first --x || exit $?\n" +
            $"{w.Env($"XAR_MOUNT_ROOT='{w.MountRoot}'")} ./{sample} second || exit $?\n" +
            $"echo \"mounts: $(awk '$3 == \"fuse.xar\" && index($2, \"{w.MountRoot}/\") == 1' /proc/self/mounts | wc -l)\"");
        Assert.True(r.ExitCode == 0, r.StandardError + r.StandardOutput);
        Assert.Equal("", r.StandardError); // mounted: no word of extraction
        Assert.StartsWith(expected, r.StandardOutput);
        Assert.Contains("[first]", r.StandardOutput);
        Assert.Contains("[--x]", r.StandardOutput);
        Assert.Contains("[second]", r.StandardOutput);
        Assert.Contains(w.MountRoot + "/uid-0/", r.StandardOutput); // run from the mount
        Assert.EndsWith("mounts: 1\n", r.StandardOutput);
        if (sample == "hello")
            Assert.Contains($"archive:      {app}\n", r.StandardOutput);
    }

    [SkippableTheory]
    [InlineData("hello", "hello", "Hello from inside a XAR!\n")]
    [InlineData("pyapp", "bin/pyapp", "pyapp: ")]
    public void SamplesRunFromTheCacheUnderXarExtract(string sample, string exec, string expected)
    {
        RequireNamespaces();
        using var w = new World();
        string app = w.Pack(Path.Combine(TestEnv.RepoRoot, "samples", sample), exec, sample);
        string cache = w["cache"];
        var r = w.Hidden(
            $"{w.Env($"XAR_EXTRACT=1 XAR_CACHE_DIR='{cache}'")} ./{sample} one || exit $?\n" +
            $"{w.Env($"XAR_EXTRACT=1 XAR_CACHE_DIR='{cache}'")} ./{sample} two");
        Assert.True(r.ExitCode == 0, r.StandardError + r.StandardOutput);
        Assert.StartsWith(expected, r.StandardOutput);
        Assert.Contains($"{cache}/", r.StandardOutput); // run from the cache entry
        Assert.Contains("[one]", r.StandardOutput);
        Assert.Contains("[two]", r.StandardOutput);
        // Extracted once: one notice, from the first run.
        Assert.StartsWith($"{app}: XAR_EXTRACT=1: extracted once into {cache}/", r.StandardError);
        Assert.Single(r.StandardError.Split('\n', StringSplitOptions.RemoveEmptyEntries));
    }

    [SkippableTheory]
    [InlineData("hello", "hello", "Hello from inside a XAR!\n")]
    [InlineData("pyapp", "bin/pyapp", "pyapp: ")]
    public void SamplesRunAsAUserWithoutFuseByExtraction(string sample, string exec, string expected)
    {
        RequireNamespaces();
        TestEnv.RequireTool("setpriv");
        using var w = new World();
        w.Pack(Path.Combine(TestEnv.RepoRoot, "samples", sample), exec, sample);
        TestEnv.Run("chown", Nobody, w.Home).EnsureSuccess("chown");
        string asNobody = $"setpriv --reuid={Nobody} --regid={Nobody} --clear-groups {w.Env($"XAR_MOUNT_ROOT='{w.MountRoot}'")}";
        var r = w.Hidden($"{asNobody} ./{sample} a || exit $?\n{asNobody} ./{sample} b", hideFuse: true);
        Assert.True(r.ExitCode == 0, r.StandardError + r.StandardOutput);
        Assert.StartsWith(expected, r.StandardOutput);
        Assert.Contains($"{w.Home}/.cache/xar/", r.StandardOutput);
        var notices = r.StandardError.Split('\n', StringSplitOptions.RemoveEmptyEntries);
        Assert.Single(notices); // the second run starts from the cache, silently
        Assert.Contains($"extracted once into {w.Home}/.cache/xar/", notices[0]);
    }

    [SkippableFact]
    public void ArgumentsStdinExitStatusAndSignalsPassThrough()
    {
        RequireNamespaces();
        TestEnv.RequireFuse();
        using var w = new World();
        string app = w.Pack(w.ProbeTree(), "run", "probe");
        string env = w.Env($"XAR_MOUNT_ROOT='{w.MountRoot}' XAR_CACHE_DIR='{w["cache"]}'");
        Directory.CreateDirectory(w["elsewhere"]);
        var r = w.Hidden(
            $"cd '{w["elsewhere"]}' && echo from-stdin | {env} '{app}' 3</dev/null --fuse-serve --image-fd 3 -x 'two words' '' --help; echo \"rc=$?\"\n" +
            $"{env} '{app}' exit 42 </dev/null; echo \"rc=$?\"\n" +
            $"{env} '{app}' signal </dev/null; echo \"rc=$?\"\n" +
            $"{env} XAR_EXTRACT=1 '{app}' exit 7 </dev/null; echo \"rc=$?\"");
        Assert.True(r.ExitCode == 0, r.StandardError + r.StandardOutput);
        Assert.Equal(
            "[--fuse-serve]\n[--image-fd]\n[3]\n[-x]\n[two words]\n[]\n[--help]\n" +
            $"OWD={w["elsewhere"]}\nXAR_PATH={app}\nNEW=1\nSTDIN=from-stdin\nrc=0\n" +
            "rc=42\nrc=143\nrc=7\n",
            r.StandardOutput);
    }

    [SkippableFact]
    public void TheBytesFromRAreAXarThatVerifiesAndRuns()
    {
        TestEnv.RequireFuse();
        using var w = new World();
        string app = w.Pack(w.ProbeTree(), "run", "probe");
        long r = XarStart(app);
        byte[] bytes = File.ReadAllBytes(app);
        byte[] runtime = File.ReadAllBytes(LauncherBinary.Path);
        Assert.Equal(runtime, bytes[..runtime.Length]); // xarexec itself
        Assert.True(r > runtime.Length - 1 && r - runtime.Length < 4096);
        Assert.All(bytes[runtime.Length..(int)r], b => Assert.Equal(0, b)); // zeros up to R
        string xar = w["probe.xar"];
        File.WriteAllBytes(xar, bytes[(int)r..]);
        File.SetUnixFileMode(xar, (UnixFileMode)0x1ED);
        Assert.StartsWith("#!/usr/bin/env xarexec_fuse\nOFFSET=\"4096\"\n", System.Text.Encoding.ASCII.GetString(bytes, (int)r, 64));
        var verify = TestEnv.Run(XarBinary.Path, "verify", xar);
        Assert.True(verify.ExitCode == 0, verify.StandardError);
        Assert.Contains("UUID matches the image hash", verify.StandardOutput);
        var run = TestEnv.Run(new RunOptions(LauncherBinary.Path, [xar, "plain"])
        {
            Environment = new Dictionary<string, string?> { ["XAR_MOUNT_ROOT"] = w.MountRoot, ["XAR_CACHE_DIR"] = w["cache"] },
        });
        Assert.True(run.ExitCode == 0, run.StandardError);
        Assert.StartsWith("[plain]\n", run.StandardOutput);
        Assert.Contains($"XAR_PATH={xar}\n", run.StandardOutput);
        Assert.Equal(Convert.ToInt32("755", 8), (int)File.GetUnixFileMode(app) & 0x1FF);
        foreach (string line in File.ReadAllLines("/proc/self/mounts").Where(l => l.Split(' ')[1].StartsWith(w.MountRoot + "/", StringComparison.Ordinal)))
            TestEnv.Run("umount", "-l", line.Split(' ')[1]);
    }

    [SkippableFact]
    public void AMissingCutOrDamagedXarIsOneLineAndExit127()
    {
        RequireNamespaces();
        using var w = new World();
        string tree = w.ProbeTree();
        // Bulk that does not compress, so cutting the end cuts the image.
        File.WriteAllBytes(Path.Combine(tree, "bulk"), System.Security.Cryptography.RandomNumberGenerator.GetBytes(300_000));
        string app = w.Pack(tree, "run", "probe");
        long r = XarStart(app);
        long size = new FileInfo(app).Length;
        void Variant(string name, Action<string> damage)
        {
            string path = Path.Combine(w.Work, name);
            File.Copy(app, path);
            damage(path);
        }
        Variant("missing", p => { using var f = File.OpenWrite(p); f.SetLength(r); });
        Variant("header-cut", p => { using var f = File.OpenWrite(p); f.SetLength(r + 100); });
        Variant("garbage", p => { using var f = File.OpenWrite(p); f.Position = r; f.Write("garbage!"u8); });
        Variant("image-cut", p => { using var f = File.OpenWrite(p); f.SetLength(size - 200_000); });
        foreach (string name in new[] { "missing", "header-cut", "garbage", "image-cut" })
        {
            string path = Path.Combine(w.Work, name);
            var result = w.Hidden($"{w.Env($"XAR_MOUNT_ROOT='{w.MountRoot}' XAR_CACHE_DIR='{w["cache-" + name]}'")} ./{name} x </dev/null");
            Assert.True(result.ExitCode == 127, $"{name}: exit {result.ExitCode}\n{result.StandardOutput}\n{result.StandardError}");
            Assert.Equal("", result.StandardOutput);
            Assert.StartsWith(path + ": ", result.StandardError);
            Assert.Single(result.StandardError.Split('\n', StringSplitOptions.RemoveEmptyEntries));
            Assert.EndsWith("\n", result.StandardError);
            if (name != "image-cut")
                Assert.Contains($"no intact XAR after the executable's ELF runtime (at byte {r})", result.StandardError);
            else
                Assert.Contains("is cut short: its image needs ", result.StandardError); // refused before any mount or extraction
        }
    }

    /// <summary>
    /// XAR_PATH when /proc/self/exe names no longer the file (the kernel's " (deleted)"): the name the file was started
    /// by, as a plain xarexec's, never a path with " (deleted)" appended. A file whose name really ends so keeps it.
    /// </summary>
    [SkippableFact]
    public void XarPathOfADeletedFileIsTheNameItWasStartedBy()
    {
        RequireNamespaces();
        using var w = new World();
        string app = w.Pack(w.ProbeTree(), "run", "probe");
        File.Copy(app, Path.Combine(w.Work, "probe (deleted)"));
        File.SetUnixFileMode(Path.Combine(w.Work, "probe (deleted)"), (UnixFileMode)0x1ED);
        string env = w.Env($"XAR_MOUNT_ROOT='{w.MountRoot}' XAR_CACHE_DIR='{w["cache"]}' XAR_EXTRACT=1");
        var r = w.Hidden(
            $"exec 7<probe; rm probe\n" +
            $"{env} /proc/self/fd/7 gone </dev/null; echo \"rc=$?\"\n" +
            $"{env} './probe (deleted)' named </dev/null; echo \"rc=$?\"");
        Assert.True(r.ExitCode == 0, r.StandardError + r.StandardOutput);
        string[] paths = r.StandardOutput.Split('\n').Where(l => l.StartsWith("XAR_PATH=", StringComparison.Ordinal)).ToArray();
        Assert.Equal(["XAR_PATH=/proc/self/fd/7", $"XAR_PATH={w.Work}/probe (deleted)"], paths);
        Assert.DoesNotContain("rc=1", r.StandardOutput);
    }

    /// <summary>
    /// Without /proc the executable cannot open itself. Before, it then was a plain xarexec and ran its first
    /// argument as a XAR (another one the caller did not mean to run); now it says why in one line and exits 127.
    /// </summary>
    [SkippableFact]
    public void WithoutProcItSaysSoAndNeverRunsItsArgumentAsAXar()
    {
        RequireNamespaces();
        using var w = new World();
        string app = w.Pack(w.ProbeTree(), "run", "probe");
        string other = w["other-tree"];
        Directory.CreateDirectory(other);
        TestXar.WriteExecutable(Path.Combine(other, "run"), "#!/bin/sh\necho other-ran\n");
        string otherXar = Path.Combine(w.Work, "other.xar");
        TestEnv.Run(XarBinary.Path, "pack", other, "-o", otherXar, "--exec", "run", "--quiet").EnsureSuccess("xar pack");
        var r = w.Hidden($"umount -l /proc || exit 98\n{w.Env($"XAR_MOUNT_ROOT='{w.MountRoot}' XAR_CACHE_DIR='{w["cache"]}' XAR_EXTRACT=1")} ./probe '{otherXar}' </dev/null\ns=$?; mount -t proc proc /proc; (exit $s)");
        Assert.True(r.ExitCode == 127, $"exit {r.ExitCode}\n{r.StandardOutput}\n{r.StandardError}");
        Assert.Equal("", r.StandardOutput);
        Assert.Equal("./probe: cannot find its own file to read the program from: /proc is not mounted (a self-contained executable opens /proc/self/exe)\n", r.StandardError);
    }

    /// <summary>The runtime links zstd, xz and lz4 in: ldd lists glibc only, and images of each codec run with the system codec libraries hidden.</summary>
    [SkippableTheory]
    [InlineData("zstd")]
    [InlineData("xz")]
    [InlineData("lz4")]
    public void TheRuntimeNeedsOnlyGlibc(string codec)
    {
        RequireNamespaces();
        TestEnv.RequireTool("ldd");
        var ldd = TestEnv.Run("ldd", LauncherBinary.Path).EnsureSuccess("ldd");
        foreach (string line in ldd.StandardOutput.Split('\n', StringSplitOptions.RemoveEmptyEntries))
            Assert.Matches(@"^\s*(linux-vdso\.so\.1|libc\.so\.6|libm\.so\.6|" + Regex.Escape(TestEnv.DynamicLoader) + @")(\s|$)", line);
        Assert.True(new FileInfo(LauncherBinary.Path).Length <= 4 << 20, "the runtime is at most 4 MiB");
        using var w = new World();
        string tree = w.ProbeTree();
        File.WriteAllText(Path.Combine(tree, "text"), string.Concat(Enumerable.Repeat("compressible text ", 20_000)));
        string app = Path.Combine(w.Work, "probe");
        TestEnv.Run(XarBinary.Path, "pack", tree, "-o", app, "--exec", "run", "-c", codec, "--self-contained", "--runtime", LauncherBinary.Path, "-q").EnsureSuccess("pack");
        TestEnv.Run("chmod", "0755", w.Work).EnsureSuccess("chmod");
        string lib = "/usr/lib/" + TestEnv.Multiarch;
        string hide = $"for l in {lib}/libzstd.so.1* {lib}/liblzma.so.5* {lib}/liblz4.so.1*; do " +
            "if [ -f \"$l\" ] && [ ! -L \"$l\" ]; then mount --bind /dev/null \"$l\"; fi; done\n";
        var r = w.Hidden(hide +
            $"{w.Env($"XAR_EXTRACT=1 XAR_CACHE_DIR='{w["cache"]}'")} ./probe extracted </dev/null || exit $?\n" +
            (File.Exists("/dev/fuse") ? $"{w.Env($"XAR_MOUNT_ROOT='{w.MountRoot}'")} ./probe mounted </dev/null" : "true"));
        Assert.True(r.ExitCode == 0, r.StandardError + r.StandardOutput);
        Assert.StartsWith("[extracted]\n", r.StandardOutput);
        if (File.Exists("/dev/fuse"))
            Assert.Contains("[mounted]\n", r.StandardOutput);
        Assert.DoesNotContain("needs the system library", r.StandardError);
    }

    [SkippableFact]
    public void PackRefusesSelfContainedBareImagesAndRuntimesThatAreNotElf()
    {
        using var w = new World();
        string tree = w.ProbeTree();
        var bare = TestEnv.Run(XarBinary.Path, "pack", tree, "-o", w["bare"], "--format", "squashfs", "--self-contained");
        Assert.Equal(2, bare.ExitCode);
        Assert.Contains("--self-contained needs --format xar", bare.StandardError);
        var notElf = TestEnv.Run(XarBinary.Path, "pack", tree, "-o", w["x"], "--exec", "run", "--self-contained", "--runtime", "/etc/hostname");
        Assert.Equal(2, notElf.ExitCode);
        Assert.Contains("not an ELF executable", notElf.StandardError);
        Assert.False(File.Exists(w["bare"]) || File.Exists(w["x"]));
    }
}
