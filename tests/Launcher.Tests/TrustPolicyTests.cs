using System.Text;
using Xar.Runtime;
using Xar.Runtime.Launching;
using Xar.Tests;

namespace Xar.Launcher.Tests;

/// <summary>
/// The trust policy (docs/ARCHITECTURE.md, "Signatures"): with keys in /etc/xar/trusted-keys.d (a private one,
/// bind-mounted in a mount namespace of the test's own) only files signed by one of them run, nothing of another
/// file is mounted or extracted, and a file swapped after its mount was made cannot run foreign code. Keys are
/// made by Debian's minisign, files signed by `xar sign`.
/// </summary>
public class TrustPolicyTests
{
    private static void Require()
    {
        TestEnv.RequireRoot();
        TestEnv.RequireFuse();
        TestEnv.RequireTool("mksquashfs");
        TestEnv.RequireTool("unshare");
        TestEnv.RequireTool("minisign");
    }

    /// <summary>A sandbox with a trusted key (in KEYS), another key, and XARs signed with them or not.</summary>
    private sealed class Policy : IDisposable
    {
        public readonly LauncherSandbox S = new();
        public readonly MinisignKeys Trusted, Other;
        public readonly string Keys, Results;

        public Policy()
        {
            Trusted = MinisignKeys.Create(S["keys-made"], "trusted");
            Other = MinisignKeys.Create(S["keys-made"], "other");
            Keys = S["trusted-keys.d"];
            Directory.CreateDirectory(Keys);
            File.Copy(Trusted.PublicKey, Path.Combine(Keys, "release.pub"));
            Results = S["results"];
            Directory.CreateDirectory(Results);
            // The mount point for the private policy (empty: no policy outside the test's namespace).
            Directory.CreateDirectory(TrustPolicy.SystemDirectory);
        }

        /// <summary>A file in the work folder, where the steps run.</summary>
        public string W(string name) => Path.Combine(S.Work, name);

        public string Sign(string file, MinisignKeys? keys = null)
        {
            TestEnv.Run(XarBinary.Path, "sign", "-q", file, "--key", (keys ?? Trusted).SecretKey).EnsureSuccess("xar sign");
            return file;
        }

        /// <summary>
        /// Runs <paramref name="steps"/> in a mount namespace of its own; <c>policy_on</c> binds KEYS over
        /// /etc/xar/trusted-keys.d, <c>step NAME CMD...</c> records CMD's exit status, output and the FUSE mounts under
        /// the sandbox right after it. Every mount made in there is detached at the end.
        /// </summary>
        public void Run(string steps, Dictionary<string, string?>? env = null, bool policy = true)
        {
            string script = """
                policy_on() { mount --bind "$KEYS" /etc/xar/trusted-keys.d || exit 99; }
                step() {
                    name=$1; shift
                    "$@" >"$RESULTS/$name.out" 2>"$RESULTS/$name.err"; echo $? >"$RESULTS/$name.rc"
                    awk -v r="$SANDBOX/" 'index($2, r) == 1 && $3 ~ /^fuse/ { print $2 }' /proc/self/mounts >"$RESULTS/$name.mounts"
                }
                cleanup() { awk -v r="$SANDBOX/" 'index($2, r) == 1 { print $2 }' /proc/self/mounts | while read -r m; do umount -l "$m"; done; }
                trap cleanup EXIT

                """ + (policy ? "policy_on\n" : "") + steps;
            var environment = S.Environment();
            environment["KEYS"] = Keys;
            environment["RESULTS"] = Results;
            environment["SANDBOX"] = Path.GetDirectoryName(S.MountRoot);
            environment["LAUNCHER"] = LauncherBinary.Path;
            environment["XAR"] = XarBinary.Path;
            if (env is not null)
                foreach (var (k, v) in env)
                    environment[k] = v;
            var r = TestEnv.Run(new RunOptions("unshare", ["-m", "--propagation", "private", "/bin/sh", "-c", script])
            {
                Environment = environment,
                WorkingDirectory = S.Work,
                TimeoutMs = 240_000,
            });
            Assert.True(r.ExitCode == 0, $"namespace script: exit {r.ExitCode}\n{r.StandardOutput}\n{r.StandardError}");
        }

        public (int Exit, string Output, string Error, string[] Mounts) this[string step] => (
            int.Parse(File.ReadAllText(Path.Combine(Results, step + ".rc")).Trim(), System.Globalization.CultureInfo.InvariantCulture),
            File.ReadAllText(Path.Combine(Results, step + ".out")),
            File.ReadAllText(Path.Combine(Results, step + ".err")),
            File.ReadAllLines(Path.Combine(Results, step + ".mounts")));

        /// <summary>The launcher's one-line refusal (exit 127) of that step; returns the cause.</summary>
        public string Refused(string step, string file)
        {
            var (exit, output, error, _) = this[step];
            var r = new ProcessResult(exit, Encoding.UTF8.GetBytes(output), error);
            Assert.Empty(output);
            return LaunchAssert.OneLineFailure(r, file);
        }

        public void Dispose() => S.Dispose();
    }

    /// <summary>A copy of <paramref name="file"/> with one byte of its image changed: the last, in mksquashfs's padding, so the image still mounts.</summary>
    private static string Tampered(string file, string output)
    {
        byte[] b = File.ReadAllBytes(file);
        b[^1] ^= 0x20;
        File.WriteAllBytes(output, b);
        File.SetUnixFileMode(output, (UnixFileMode)0x1ED);
        return output;
    }

    /// <summary>Another program under the signed file's UUID, carrying its signature line: what an attacker swaps in.</summary>
    private static string Foreign(Policy p, string signed, string output)
    {
        string tree = p.S["foreign-tree"];
        Directory.CreateDirectory(Path.Combine(tree, "bin"));
        TestXar.WriteExecutable(Path.Combine(tree, TestXar.BootstrapName), TestXar.Bootstrap("bin/app"));
        TestXar.WriteExecutable(Path.Combine(tree, "bin", "app"), "#!/bin/sh\necho FOREIGN CODE RAN\n");
        var header = XarHeader.ReadFromFile(signed);
        return TestXar.Build(tree, output, header.Uuid, extra: [new("XAR_SIGNATURE", header["XAR_SIGNATURE"]!)]);
    }

    private static string[] CacheEntries(Policy p) =>
        Directory.Exists(p.S.CacheDir) ? Directory.GetDirectories(p.S.CacheDir).Select(d => Path.GetFileName(d)).ToArray() : [];

    /// <summary>What the cache directory held after the refusals (lock files aside): the script lists it then.</summary>
    private static string[] CacheAfterRefusals(Policy p)
    {
        string list = Path.Combine(p.Results, "cache-after-refusals");
        return File.Exists(list) ? File.ReadAllLines(list).Where(n => n.Length > 0 && !n.StartsWith("lockfile.", StringComparison.Ordinal)).ToArray() : [];
    }

    [SkippableFact]
    public void OnlyFilesSignedByATrustedKeyRunAndNothingElseIsMountedOrExtracted()
    {
        Require();
        using var p = new Policy();
        string signed = p.Sign(TestXar.Build(p.S.AppTree, p.W("signed.xar")));
        string unsigned = TestXar.Build(p.S.AppTree, p.W("unsigned.xar"));
        string other = p.Sign(TestXar.Build(p.S.AppTree, p.W("other.xar")), p.Other);
        string tampered = Tampered(signed, p.W("tampered.xar"));
        p.Run("""
            step tampered "$LAUNCHER" tampered.xar a
            step tampered-cache env XAR_EXTRACT=1 "$LAUNCHER" tampered.xar a
            step unsigned "$LAUNCHER" unsigned.xar a
            step unsigned-cache env XAR_EXTRACT=1 "$LAUNCHER" unsigned.xar a
            step other "$LAUNCHER" other.xar a
            step tampered-m "$LAUNCHER" -m tampered.xar
            step tampered-run "$XAR" run tampered.xar a
            ls -A "$XAR_CACHE_DIR" >"$RESULTS/cache-after-refusals" 2>/dev/null || true
            step signed "$LAUNCHER" signed.xar first
            step warm "$LAUNCHER" signed.xar warm
            step tampered-warm "$LAUNCHER" tampered.xar a
            step cached-first env XAR_EXTRACT=1 "$LAUNCHER" signed.xar cached
            step cached-warm env XAR_EXTRACT=1 "$LAUNCHER" signed.xar cached-again
            step xar-run "$XAR" run signed.xar by-xar-run
            """);
        foreach (string step in (string[])["tampered", "tampered-cache", "tampered-m"])
        {
            Assert.Contains("bad signature", p.Refused(step, "tampered.xar"));
            Assert.Empty(p[step].Mounts);
        }
        Assert.Contains("not signed", p.Refused("unsigned", "unsigned.xar"));
        Assert.Contains("not signed", p.Refused("unsigned-cache", "unsigned.xar"));
        Assert.Contains("which is not a trusted key", p.Refused("other", "other.xar"));
        Assert.Empty(p["other"].Mounts);
        Assert.Equal(127, p["tampered-run"].Exit);
        Assert.Contains("bad signature", p["tampered-run"].Error);
        Assert.Empty(p["tampered-run"].Mounts);
        Assert.Empty(CacheAfterRefusals(p)); // nothing was extracted from the refused files

        Assert.Equal(0, p["signed"].Exit);
        Assert.StartsWith("[first]\n", p["signed"].Output);
        Assert.Contains("NEW_MOUNT=1\n", p["signed"].Output);
        Assert.Single(p["signed"].Mounts);
        Assert.Equal(0, p["warm"].Exit);
        Assert.Contains("NEW_MOUNT=\n", p["warm"].Output);
        // The same UUID, tampered, with the signed file's mount live: still checked, still refused.
        Assert.Contains("bad signature", p.Refused("tampered-warm", "tampered.xar"));
        Assert.Equal(0, p["cached-first"].Exit);
        Assert.StartsWith("[cached]\n", p["cached-first"].Output);
        Assert.Equal(0, p["cached-warm"].Exit);
        Assert.StartsWith("[cached-again]\n", p["cached-warm"].Output);
        Assert.Equal(0, p["xar-run"].Exit);
        Assert.StartsWith("[by-xar-run]\n", p["xar-run"].Output);
        Assert.Equal([XarHeader.ReadFromFile(signed).Uuid], CacheEntries(p));
    }

    [SkippableFact]
    public void AFileSwappedAfterItsMountWasMadeCannotRunForeignCode()
    {
        Require();
        using var p = new Policy();
        string signed = p.Sign(TestXar.Build(p.S.AppTree, p.W("app.xar")));
        File.Copy(signed, p.W("good.copy"));
        Foreign(p, signed, p.W("foreign.xar"));
        p.Run("""
            step foreign-before-policy "$LAUNCHER" foreign.xar a
            policy_on
            step signed "$LAUNCHER" app.xar first
            cp foreign.xar swap.tmp && mv swap.tmp app.xar
            step renamed "$LAUNCHER" app.xar renamed
            cp good.copy swap.tmp && mv swap.tmp app.xar
            step restored "$LAUNCHER" app.xar restored
            cat foreign.xar >app.xar
            step in-place "$LAUNCHER" app.xar in-place
            step in-place-cache env XAR_EXTRACT=1 "$LAUNCHER" app.xar in-place
            cat good.copy >app.xar
            step cached env XAR_EXTRACT=1 "$LAUNCHER" app.xar cached
            cat foreign.xar >app.xar
            step cached-in-place env XAR_EXTRACT=1 "$LAUNCHER" app.xar cached-in-place
            """, policy: false);
        // Before the policy the foreign file mounted under the signed file's UUID (the UUID contract trusts the UUID).
        Assert.Equal(0, p["foreign-before-policy"].Exit);
        Assert.Contains("FOREIGN CODE RAN", p["foreign-before-policy"].Output);
        // That mount came from a file nobody checked: under the policy it is made again from the checked file.
        Assert.Equal(0, p["signed"].Exit);
        Assert.StartsWith("[first]\n", p["signed"].Output);
        Assert.Contains("NEW_MOUNT=1\n", p["signed"].Output);
        Assert.DoesNotContain("FOREIGN", p["signed"].Output);
        foreach (string step in (string[])["renamed", "in-place", "in-place-cache", "cached-in-place"])
        {
            Assert.Contains("bad signature", p.Refused(step, "app.xar"));
            Assert.DoesNotContain("FOREIGN", p[step].Output);
        }
        // The checked file again (another inode): checked, then the live mount made from a checked file serves it.
        Assert.Equal(0, p["restored"].Exit);
        Assert.StartsWith("[restored]\n", p["restored"].Output);
        Assert.Contains("NEW_MOUNT=\n", p["restored"].Output);
        Assert.Equal(0, p["cached"].Exit);
        Assert.StartsWith("[cached]\n", p["cached"].Output);
    }

    /// <summary>
    /// <paramref name="tree"/> with 3 MiB of random bytes added, so that hashing the image would read far past the
    /// header (a small image fits in the header's first read, and a hash of it would go unseen in a trace).
    /// </summary>
    private static string WithIncompressibleMegabytes(string tree)
    {
        var bytes = new byte[3 << 20];
        new Random(11).NextBytes(bytes);
        File.WriteAllBytes(Path.Combine(tree, "data", "noise.bin"), bytes);
        return tree;
    }

    /// <summary>A warm start under a policy (the mount or cache entry made from this very file) hashes nothing: it reads the header, not the image, and the runtime never starts.</summary>
    [SkippableFact]
    public void WarmStartsUnderAPolicyReadNothingPastTheHeader()
    {
        Require();
        TestEnv.RequireTool("strace");
        using var p = new Policy();
        p.Sign(TestXar.Build(WithIncompressibleMegabytes(p.S.AppTree), p.W("app.xar")));
        p.Run("""
            step first "$LAUNCHER" app.xar first
            step warm strace -o "$RESULTS/warm.trace" -e trace=openat,pread64,read "$LAUNCHER" app.xar warm
            step cache env XAR_EXTRACT=1 "$LAUNCHER" app.xar cache
            step cached env XAR_EXTRACT=1 strace -o "$RESULTS/cached.trace" -e trace=openat,pread64,read "$LAUNCHER" app.xar cached
            """);
        foreach (string step in (string[])["warm", "cached"])
        {
            Assert.True(p[step].Exit == 0, p[step].Error);
            Assert.StartsWith($"[{step}]\n", p[step].Output);
            var trace = File.ReadAllLines(Path.Combine(p.Results, step + ".trace"));
            Assert.Contains(trace, l => l.Contains("\"/etc/xar/trusted-keys.d\"")); // the policy was read
            Assert.Contains(trace, l => l.Contains("\"release.pub\""));
            Assert.DoesNotContain(trace, l => l.Contains("/proc/self/mountinfo")); // the runtime never started
            AssertReadsNothingPastTheHeader(trace);
        }
    }

    /// <summary>No pread in the strace lines starts past the header's first read (8 KiB and the 4 bytes that tell it ended): no hash.</summary>
    private static void AssertReadsNothingPastTheHeader(IEnumerable<string> trace)
    {
        foreach (string line in trace)
        {
            var m = System.Text.RegularExpressions.Regex.Match(line, @"pread64\(\d+, .*, (\d+), (\d+)\) = \d+");
            if (m.Success)
                Assert.True(long.Parse(m.Groups[2].Value) < 8192 + 4, "read beyond the header: " + line);
        }
    }

    /// <summary>
    /// The check taken off the first start (README, "Cost"): `xar mount` at install time checks and records the file,
    /// and a later start, cold after that mount went away, reads nothing past the header in the launcher.
    /// </summary>
    [SkippableFact]
    public void AFileMountedOnceAtInstallStartsColdLaterWithoutHashing()
    {
        Require();
        TestEnv.RequireTool("strace");
        using var p = new Policy();
        p.Sign(TestXar.Build(WithIncompressibleMegabytes(p.S.AppTree), p.W("app.xar")));
        p.Run("""
            step install "$XAR" mount app.xar
            umount -l "$(cat "$RESULTS/install.out")"
            step gone true
            step cold strace -o "$RESULTS/cold.trace" -e trace=openat,pread64,read "$LAUNCHER" app.xar cold
            """);
        Assert.True(p["install"].Exit == 0, p["install"].Error);
        Assert.Single(p["install"].Mounts);
        Assert.Empty(p["gone"].Mounts);
        Assert.True(p["cold"].Exit == 0, p["cold"].Error);
        Assert.StartsWith("[cold]\n", p["cold"].Output);
        Assert.Contains("NEW_MOUNT=1\n", p["cold"].Output); // mounted again: a cold start
        AssertReadsNothingPastTheHeader(File.ReadAllLines(Path.Combine(p.Results, "cold.trace")));
    }

    [SkippableFact]
    public void SelfContainedFilesFollowThePolicy()
    {
        Require();
        using var p = new Policy();
        TestEnv.Run(XarBinary.Path, "pack", "-q", p.S.AppTree, "-o", p.W("app"), "--exec", "bin/app", "--self-contained").EnsureSuccess("pack");
        File.Copy(p.W("app"), p.W("unsigned"));
        p.Sign(p.W("app"));
        // A byte of the zero padding between the runtime's ELF end and the XAR: the runtime still runs, the signature breaks.
        byte[] b = File.ReadAllBytes(p.W("app"));
        long xarStart = ElfExtent.XarStart(ElfExtent.End(b));
        b[xarStart - 1] ^= 1;
        File.WriteAllBytes(p.W("padded"), b);
        File.SetUnixFileMode(p.W("padded"), (UnixFileMode)0x1ED);
        // The same runtime with another program under the signed XAR's UUID and signature line: what a swap puts there.
        byte[] signedBytes = File.ReadAllBytes(p.W("app"));
        File.WriteAllBytes(p.S["app-xar-part"], signedBytes.AsSpan((int)xarStart).ToArray());
        byte[] foreign = File.ReadAllBytes(Foreign(p, p.S["app-xar-part"], p.S["foreign-part.xar"]));
        File.WriteAllBytes(p.W("foreign"), [.. signedBytes.AsSpan(0, (int)xarStart).ToArray(), .. foreign]);
        File.SetUnixFileMode(p.W("foreign"), (UnixFileMode)0x1ED);
        p.Run("""
            step unsigned ./unsigned a
            step padded ./padded a
            step padded-cache env XAR_EXTRACT=1 ./padded a
            ls -A "$XAR_CACHE_DIR" >"$RESULTS/cache-after-refusals" 2>/dev/null || true
            step signed ./app first
            step warm ./app warm
            step cached env XAR_EXTRACT=1 ./app cached
            step by-xarexec "$LAUNCHER" app by-xarexec
            cp app app2
            step by-copy ./app2 by-copy
            cp foreign swap.tmp && mv swap.tmp app
            step swapped ./app swapped
            step swapped-by-xarexec "$LAUNCHER" app swapped
            cat foreign >app2
            step rewritten ./app2 rewritten
            """);
        Assert.Equal(127, p["unsigned"].Exit);
        Assert.Contains("not signed", p["unsigned"].Error);
        Assert.Equal(1, p["unsigned"].Error.Count(c => c == '\n'));
        foreach (string step in (string[])["padded", "padded-cache"])
        {
            Assert.Equal(127, p[step].Exit);
            Assert.Contains("bad signature", p[step].Error);
            Assert.Empty(p[step].Mounts);
        }
        Assert.Empty(CacheAfterRefusals(p));
        foreach (string step in (string[])["signed", "warm", "cached", "by-xarexec", "by-copy"])
        {
            Assert.True(p[step].Exit == 0, step + ": " + p[step].Error);
            Assert.StartsWith($"[{(step == "signed" ? "first" : step)}]\n", p[step].Output);
        }
        // Swapped in (renamed over, or written into a file that ran before): its mount is live, it is not run.
        foreach (string step in (string[])["swapped", "swapped-by-xarexec", "rewritten"])
        {
            Assert.Equal(127, p[step].Exit);
            Assert.Contains("bad signature", p[step].Error);
            Assert.DoesNotContain("FOREIGN", p[step].Output);
        }
    }

    [SkippableFact]
    public void APolicyThatCannotBeReadSafelyStopsEveryLaunch()
    {
        Require();
        using var p = new Policy();
        string signed = p.Sign(TestXar.Build(p.S.AppTree, p.W("app.xar")));
        string loose = Path.Combine(p.Keys, "loose.pub");
        File.Copy(p.Other.PublicKey, loose);
        File.SetUnixFileMode(loose, (UnixFileMode)0x1B6); // 0666: anyone could add their key
        p.Run("""step writable "$LAUNCHER" app.xar a""");
        Assert.Contains("writable by others", p.Refused("writable", "app.xar"));
        File.Delete(loose);
        File.WriteAllText(Path.Combine(p.Keys, "broken.pub"), "untrusted comment: not a key\nAAAA\n");
        p.Run("""step malformed "$LAUNCHER" app.xar a""");
        Assert.Contains("is not a minisign public key", p.Refused("malformed", "app.xar"));
        Assert.Empty(p["malformed"].Mounts);
        File.Delete(Path.Combine(p.Keys, "broken.pub"));
        // Files not named *.pub are not keys.
        File.WriteAllText(Path.Combine(p.Keys, "README"), "not a key\n");
        p.Run("""step readme "$LAUNCHER" app.xar a""");
        Assert.Equal(0, p["readme"].Exit);
        _ = signed;
    }

    /// <summary>
    /// Two trusted keys under one key id (ids are 8 bytes a key's maker chooses): files signed by either run. Before,
    /// the policy kept the first key read with an id and dropped the other, so files signed by it were refused.
    /// </summary>
    [SkippableFact]
    public void TwoTrustedKeysWithOneKeyIdBothCount()
    {
        Require();
        using var p = new Policy();
        var twin = MinisignKeys.CreateWithKeyId(p.S["keys-made"], "twin", MinisignKeys.KeyIdOf(p.Trusted.PublicKey));
        File.Copy(twin.PublicKey, Path.Combine(p.Keys, "twin.pub"));
        p.Sign(TestXar.Build(p.S.AppTree, p.W("by-trusted.xar")));
        p.Sign(TestXar.Build(p.S.AppTree, p.W("by-twin.xar")), twin);
        static byte[] SignatureKeyId(string file) => Convert.FromBase64String(XarHeader.ReadFromFile(file)["XAR_SIGNATURE"]!.Split(' ')[1])[2..10];
        Assert.Equal(SignatureKeyId(p.W("by-trusted.xar")), SignatureKeyId(p.W("by-twin.xar")));
        var verify = TestEnv.Run(XarBinary.Path, "verify", p.W("by-twin.xar"), "--key", twin.PublicKey);
        Assert.True(verify.ExitCode == 0, verify.StandardError);
        p.Run("""
            step trusted "$LAUNCHER" by-trusted.xar a
            step twin "$LAUNCHER" by-twin.xar a
            """);
        foreach (string step in new[] { "trusted", "twin" })
            Assert.True(p[step].Exit == 0, $"{step}: exit {p[step].Exit}: {p[step].Error}");
    }

    /// <summary>The user's own ~/.config/xar/trusted-keys.d makes a policy for that user; one that belongs to another user is not read.</summary>
    [SkippableFact]
    public void TheUsersOwnKeyDirectoryMakesAPolicyForThatUser()
    {
        Require();
        using var p = new Policy();
        string unsigned = TestXar.Build(p.S.AppTree, p.W("unsigned.xar"));
        string home = p.S["home"];
        string keys = Path.Combine(home, ".config", "xar", "trusted-keys.d");
        Directory.CreateDirectory(keys);
        File.Copy(p.Trusted.PublicKey, Path.Combine(keys, "mine.pub"));
        p.Run("""step mine "$LAUNCHER" unsigned.xar a""", new() { ["HOME"] = home }, policy: false);
        Assert.Contains("not signed", p.Refused("mine", "unsigned.xar"));
        TestEnv.Run("chown", "-R", "12345", Path.Combine(home, ".config")).EnsureSuccess("chown");
        p.Run("""step theirs "$LAUNCHER" unsigned.xar a""", new() { ["HOME"] = home }, policy: false);
        Assert.Equal(0, p["theirs"].Exit);
    }

    /// <summary>
    /// A HOME that is another user's and closed to us (root's, kept under setpriv or su) holds no policy of ours: the
    /// launch goes on. Before, the EACCES on its key directory stopped every launch. A key directory in our own HOME
    /// that we cannot read still stops it.
    /// </summary>
    [SkippableFact]
    public void AHomeOfAnotherUserThatIsClosedToUsIsNotOurPolicy()
    {
        Require();
        TestEnv.RequireTool("setpriv");
        using var p = new Policy();
        TestXar.Build(p.S.AppTree, p.W("unsigned.xar"));
        string sandbox = Path.GetDirectoryName(p.S.MountRoot)!;
        TestEnv.Run("chmod", "0755", sandbox, p.S.Work).EnsureSuccess("chmod");
        string closed = p.S["closed-home"];
        Directory.CreateDirectory(Path.Combine(closed, ".config", "xar", "trusted-keys.d"));
        File.Copy(p.Trusted.PublicKey, Path.Combine(closed, ".config", "xar", "trusted-keys.d", "root.pub"));
        TestEnv.Run("chmod", "0700", closed).EnsureSuccess("chmod");
        string own = p.S["own-home"];
        Directory.CreateDirectory(Path.Combine(own, ".config", "xar", "trusted-keys.d"));
        File.Copy(p.Trusted.PublicKey, Path.Combine(own, ".config", "xar", "trusted-keys.d", "mine.pub"));
        string cache = p.S["nobody-cache"];
        Directory.CreateDirectory(cache);
        TestEnv.Run("chown", "-R", Nobody, own, cache).EnsureSuccess("chown");
        TestEnv.Run("chmod", "0700", cache).EnsureSuccess("chmod");
        TestEnv.Run("chmod", "0", Path.Combine(own, ".config")).EnsureSuccess("chmod");
        string asNobody = $"setpriv --reuid={Nobody} --regid={Nobody} --clear-groups env XAR_EXTRACT=1 XAR_CACHE_DIR='{cache}'";
        p.Run($"""
            step closed {asNobody} HOME='{closed}' "$LAUNCHER" unsigned.xar a
            step own {asNobody} HOME='{own}' "$LAUNCHER" unsigned.xar a
            """, policy: false);
        Assert.True(p["closed"].Exit == 0, $"exit {p["closed"].Exit}: {p["closed"].Error}");
        Assert.Contains("trusted keys", p.Refused("own", "unsigned.xar"));
    }

    private const string Nobody = "65534";
}
