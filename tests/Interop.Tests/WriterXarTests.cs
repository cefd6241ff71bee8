using System.Security.Cryptography;
using Xar.Runtime;
using Xar.Tests;

namespace Xar.Interop.Tests;

/// <summary>`xar pack --exec`: the header of DESIGN.md, squashfuse mounts it, the bootstrap runs the entrypoint.</summary>
[Collection("writer-interop")]
[System.Runtime.Versioning.SupportedOSPlatform("linux")]
public class WriterXarTests
{
    private static string MakeApp(TempDir dir)
    {
        string app = dir["app"];
        Directory.CreateDirectory(Path.Combine(app, "bin"));
        string run = Path.Combine(app, "bin", "run me");
        File.WriteAllText(run, "#!/bin/sh\nprintf 'args:'; for a in \"$@\"; do printf ' [%s]' \"$a\"; done; echo\necho \"path=$XAR_PATH\"\necho \"mount=$XAR_MOUNT\"\ncat \"$XAR_MOUNT/data.txt\"\n");
        File.SetUnixFileMode(run, (UnixFileMode)0x1ED);
        File.WriteAllText(Path.Combine(app, "data.txt"), "payload\n");
        return app;
    }

    [SkippableFact]
    public void ExecArchiveHasTheDesignHeaderAndRunsUnderSquashfuse()
    {
        TestEnv.RequireFuse();
        TestEnv.RequireTool("squashfuse");
        TestEnv.RequireTool("fusermount3");
        using var dir = new TempDir("writer-xar");
        string app = MakeApp(dir);
        string xar = dir["app.xar"];
        XarProgram.Run(new Dictionary<string, string?> { ["SOURCE_DATE_EPOCH"] = "1700000000" },
            "pack", app, "-o", xar, "--exec", "bin/run me", "-c", "gzip").EnsureSuccess("xar pack --exec");

        byte[] bytes = File.ReadAllBytes(xar);
        Assert.StartsWith("#!/usr/bin/env xarexec_fuse\nOFFSET=\"4096\"\n", System.Text.Encoding.ASCII.GetString(bytes, 0, 100));
        var header = XarHeader.ReadFromFile(xar);
        Assert.Equal(4096, header.Offset);
        Assert.Equal("1700000000", header.Version);
        Assert.Equal(Convert.ToHexStringLower(SHA256.HashData(bytes.AsSpan(4096)))[..16], header.Uuid);
        Assert.Equal(XarFile.BootstrapName, header.ExecTarget);
        Assert.True("hsqs"u8.SequenceEqual(bytes.AsSpan(4096, 4)));
        Assert.Equal((UnixFileMode)0x1ED, File.GetUnixFileMode(xar));

        string mount = dir["mnt"];
        Directory.CreateDirectory(mount);
        TestEnv.Run("squashfuse", "-o", "offset=4096", xar, mount).EnsureSuccess("squashfuse");
        try
        {
            var r = TestEnv.Run("/bin/sh", "-e", Path.Combine(mount, header.ExecTarget!), xar, "a", "b c").EnsureSuccess("bootstrap");
            Assert.Equal($"args: [a] [b c]\npath={xar}\nmount={mount}\npayload\n", r.StandardOutput);
            // Relative paths (./app.xar run from its directory; a script path relative to the
            // current directory): XAR_PATH and XAR_MOUNT still come out absolute.
            r = TestEnv.Run(new RunOptions("/bin/sh", ["-e", "mnt/" + header.ExecTarget, "./app.xar", "x"]) { WorkingDirectory = dir.Path })
                .EnsureSuccess("bootstrap, relative paths");
            Assert.Equal($"args: [x]\npath={xar}\nmount={mount}\npayload\n", r.StandardOutput);
            r = TestEnv.Run(new RunOptions("/bin/sh", ["-e", header.ExecTarget!, "../app.xar"]) { WorkingDirectory = mount })
                .EnsureSuccess("bootstrap, run from the mount");
            Assert.Equal($"args:\npath={mount}/../app.xar\nmount={mount}\npayload\n", r.StandardOutput);
            // From the root directory: one slash, not "//" ($PWD is "/").
            string fromRoot = Path.GetRelativePath("/", xar);
            r = TestEnv.Run(new RunOptions("/bin/sh", ["-e", Path.Combine(mount, header.ExecTarget!), fromRoot]) { WorkingDirectory = "/" })
                .EnsureSuccess("bootstrap, run from /");
            Assert.Equal($"args:\npath=/{fromRoot}\nmount={mount}\npayload\n", r.StandardOutput);
        }
        finally
        {
            TestEnv.Run("fusermount3", "-u", mount);
        }
    }

    [SkippableFact]
    public void KernelMountsTheImageInsideAXarFile()
    {
        TestEnv.RequireRoot();
        TestEnv.RequireTool("python3");
        using var dir = new TempDir("writer-xar-k");
        string app = MakeApp(dir);
        string xar = dir["app.xar"];
        XarProgram.Pack(app, xar);
        // without --exec the image holds exactly the tree
        TestEnv.AssertTreesEqual(app, xar, "--via", "kernel");
        Assert.Null(XarHeader.ReadFromFile(xar).ExecTarget);
    }

    [Fact]
    public void ArchivesOfEqualTreesAreByteIdenticalWhateverCreationOrderAndJobs()
    {
        using var dir = new TempDir("writer-repro");
        string a = dir["a"], b = dir["b"];
        MakeTree(a, reverse: false);
        MakeTree(b, reverse: true);
        var env = new Dictionary<string, string?> { ["SOURCE_DATE_EPOCH"] = "1700000000" };
        XarProgram.Run(env, "pack", a, "-o", dir["a.xar"], "-j", "1", "--quiet", "-b", "16K").EnsureSuccess("pack a");
        XarProgram.Run(env, "pack", b, "-o", dir["b.xar"], "-j", "2", "--quiet", "-b", "16K").EnsureSuccess("pack b");
        byte[] x = File.ReadAllBytes(dir["a.xar"]), y = File.ReadAllBytes(dir["b.xar"]);
        Assert.True(x.AsSpan().SequenceEqual(y), $"archives differ ({x.Length} and {y.Length} bytes)");
    }

    private static void MakeTree(string root, bool reverse)
    {
        var random = new Random(7);
        var files = Enumerable.Range(0, 120).Select(i => ($"d{i % 5}/s{i % 3}/file{i:D3}", random.Next(0, 200_000))).ToList();
        var contents = files.ToDictionary(f => f.Item1, f =>
        {
            var r = new Random(f.Item2);
            var data = new byte[f.Item2];
            r.NextBytes(data.AsSpan(0, data.Length / 3));
            return data;
        });
        if (reverse)
            files.Reverse();
        Directory.CreateDirectory(root);
        foreach (var (name, _) in files)
        {
            string path = Path.Combine(root, name);
            Directory.CreateDirectory(Path.GetDirectoryName(path)!);
            File.WriteAllBytes(path, contents[name]);
        }
        var extras = new List<Action>
        {
            () => File.CreateSymbolicLink(Path.Combine(root, "link"), "d0/s0/file000"),
            () => TestEnv.Run("ln", Path.Combine(root, "d0", "s0", "file000"), Path.Combine(root, "d1", "hard")).EnsureSuccess("ln"),
            () => File.WriteAllBytes(Path.Combine(root, "d2", "copy"), contents["d1/s1/file001"]),
            () => Directory.CreateDirectory(Path.Combine(root, "empty")),
        };
        if (reverse)
            extras.Reverse();
        foreach (var e in extras)
            e();
        // every mtime (symlinks' too: -h) pinned, so only the creation order differs
        TestEnv.Run("find", root, "-exec", "touch", "-h", "-d", "@1622505600", "{}", "+").EnsureSuccess("touch");
    }

    /// <summary>`-o -` writes the same bytes to standard output that `-o FILE` writes to FILE, and leaves nothing in TMPDIR.</summary>
    [Fact]
    public void OutputToStandardOutputIsTheSameArchive()
    {
        using var dir = new TempDir("writer-stdout");
        string app = MakeApp(dir);
        Directory.CreateDirectory(dir["tmp"]);
        var env = new Dictionary<string, string?> { ["SOURCE_DATE_EPOCH"] = "1700000000", ["TMPDIR"] = dir["tmp"] };
        foreach (var format in new[] { "xar", "squashfs" })
        {
            string[] exec = format == "xar" ? ["--exec", "bin/run me"] : [];
            XarProgram.Run(env, ["pack", app, "-o", dir[format], "--quiet", "--format", format, .. exec]).EnsureSuccess("xar pack -o FILE");
            var piped = XarProgram.Run(env, ["pack", app, "-o", "-", "--quiet", "--format", format, .. exec]).EnsureSuccess("xar pack -o -");
            Assert.Equal(File.ReadAllBytes(dir[format]), piped.StandardOutputBytes);
            Assert.Empty(Directory.GetFileSystemEntries(dir["tmp"]));
        }

        var failed = XarProgram.Run(env, "pack", dir["missing"], "-o", "-", "--quiet");
        Assert.Equal(2, failed.ExitCode);
        Assert.Empty(failed.StandardOutputBytes);
        Assert.Empty(Directory.GetFileSystemEntries(dir["tmp"]));
    }

    /// <summary>An image is not sent to a terminal: `-o -` there is a usage error (exit 2), as gzip does.</summary>
    [SkippableFact]
    public void OutputToATerminalIsRefused()
    {
        TestEnv.RequireTool("script");
        string? bin = Environment.GetEnvironmentVariable("XAR_BIN");
        TestEnv.Require(bin is not null && File.Exists(Path.Combine(bin, "xar")), "needs XAR_BIN (make test)");
        using var dir = new TempDir("writer-tty");
        string app = MakeApp(dir);
        // script(1) runs the command on a pseudo-terminal and passes its exit status back (-e).
        var r = TestEnv.Run("script", "-qec", $"'{Path.Combine(bin!, "xar")}' pack '{app}' -o - --quiet", "/dev/null");
        Assert.Equal(2, r.ExitCode);
        Assert.Contains("standard output is a terminal", r.StandardOutput);
        Assert.DoesNotContain("hsqs", r.StandardOutput);
    }
}
