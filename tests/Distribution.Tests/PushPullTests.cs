using System.Text.Json;
using Xar.Tests;

namespace Xar.Distribution.Tests;

/// <summary>`xar push` and `xar pull` against the real registry (Debian's docker-registry), without authentication.</summary>
public sealed class PushPullTests
{
    [SkippableFact]
    public void PushThenPullIsByteIdenticalAndExecutable()
    {
        using var registry = TestRegistry.Start();
        using var cli = new RegistryCli();
        string xar = cli.MakeXar("app.xar", 300_000);
        var push = cli.Run("push", xar, registry.Address + "/apps/tool:1.0", "--plain-http");
        push.EnsureSuccess("push");
        string manifestDigest = push.StandardOutput.Trim();
        Assert.True(Sha256Digest.IsValid(manifestDigest), push.StandardOutput);

        cli.Run("pull", registry.Address + "/apps/tool:1.0", "-o", cli["pulled.xar"], "--plain-http").EnsureSuccess("pull");
        Assert.Equal(File.ReadAllBytes(xar), File.ReadAllBytes(cli["pulled.xar"]));
        Assert.Equal((UnixFileMode)0x1ED, File.GetUnixFileMode(cli["pulled.xar"]));
        // The cache keeps the file by its digest.
        Assert.True(File.Exists(Path.Combine(cli.Cache, "blobs", "sha256", RegistryCli.Digest(xar)[7..])));
    }

    /// <summary>
    /// XAR_CACHE_DIR whose name is not UTF-8 (<c>c\xfd</c>): the pulled blob is kept in it (push's digest records go
    /// the same way, `XarBlobCache.OpenHeld`). Before, .NET's file calls put it in a directory named with
    /// U+FFFD's bytes instead, beside it. So is an OUT whose name is not UTF-8 (`-o` and `--output=`): linked from the
    /// cache, replaced by a second pull, and copied (mode 0755, nothing else left) onto another file system.
    /// </summary>
    [SkippableFact]
    public void ACacheDirectoryAndAnOutputWhoseNamesAreNotUtf8AreUsedByTheirBytes()
    {
        using var registry = TestRegistry.Start();
        using var cli = new RegistryCli();
        string xar = cli.MakeXar("app.xar", 10_000);
        string hex = RegistryCli.Digest(xar)[7..];
        // In sh: the directory's name cannot be a .NET string.
        const string script = """
            c="$1/c$(printf '\375')"; mkdir -m 700 "$c"; export XAR_CACHE_DIR="$c"
            "$2" push "$3" "$4/apps/bytes:1" --plain-http > /dev/null || exit 10
            "$2" pull "$4/apps/bytes:1" -o "$1/pulled.xar" --plain-http || exit 11
            [ -f "$c/blobs/sha256/$5" ] || exit 12
            [ ! -e "$1/c$(printf '\357\277\275')" ] || exit 14
            # OUT by its bytes too: linked from the cache, written again over itself, and copied to another file system.
            o="$1/o$(printf '\376')"; mkdir "$o"
            "$2" pull "$4/apps/bytes:1" -o "$o/p$(printf '\375').xar" --plain-http || exit 15
            "$2" pull "$4/apps/bytes:1" --output="$o/p$(printf '\375').xar" --plain-http || exit 16
            cmp -s "$3" "$o/p$(printf '\375').xar" || exit 17
            [ "$(stat -c %a "$o/p$(printf '\375').xar")" = 755 ] || exit 18
            s=$(mktemp -d /dev/shm/xar-pull-XXXXXX)/d$(printf '\377'); mkdir "$s"
            "$2" pull "$4/apps/bytes:1" -o "$s/q$(printf '\374')" --plain-http; status=$?
            cmp -s "$3" "$s/q$(printf '\374')"; same=$?; mode=$(stat -c %a "$s/q$(printf '\374')"); left=$(ls -A "$s" | wc -l)
            rm -rf "${s%/*}"
            [ $status = 0 ] && [ $same = 0 ] && [ "$mode" = 755 ] && [ "$left" = 1 ] || exit 19
            [ "$(ls -A "$o" | wc -l)" = 1 ] && [ ! -e "$1/o$(printf '\357\277\275')" ] || exit 20
            """;
        var r = TestEnv.Run(new RunOptions("/bin/sh", ["-c", script, "sh", cli["."], XarBinary.Path, xar, registry.Address, hex]) { Environment = cli.Environment });
        Assert.True(r.ExitCode == 0, $"step {r.ExitCode}: {r.StandardError}");
        Assert.Equal(File.ReadAllBytes(xar), File.ReadAllBytes(cli["pulled.xar"]));
    }

    [SkippableFact]
    public void DefaultTagIsLatest()
    {
        using var registry = TestRegistry.Start();
        using var cli = new RegistryCli();
        string xar = cli.MakeXar("app.xar", 10_000);
        cli.Run("push", xar, registry.Address + "/apps/tool", "--plain-http").EnsureSuccess("push");
        cli.Run("pull", registry.Address + "/apps/tool:latest", "-o", cli["out"], "--plain-http").EnsureSuccess("pull");
        Assert.Equal(File.ReadAllBytes(xar), File.ReadAllBytes(cli["out"]));
    }

    [SkippableFact]
    public void LargeFileGoesUpInChunksAndDownWhole()
    {
        using var registry = TestRegistry.Start();
        using var cli = new RegistryCli();
        string xar = cli.MakeXar("big.xar", 70 << 20); // four 16 MiB chunks and a short one
        cli.ExtraEnvironment["XAR_PUSH_CHUNK_MIB"] = "16";
        var push = cli.Run("push", xar, registry.Address + "/apps/big:1", "--plain-http", "-v");
        push.EnsureSuccess("push");
        Assert.Equal(5, push.StandardError.Split('\n').Count(l => l.StartsWith("xar: PATCH ", StringComparison.Ordinal)));
        cli.Run("pull", registry.Address + "/apps/big:1", "-o", cli["out"], "--plain-http").EnsureSuccess("pull");
        Assert.Equal(RegistryCli.Digest(xar), RegistryCli.Digest(cli["out"]));
    }

    [SkippableFact]
    public void SecondPushUploadsNoBlob()
    {
        using var registry = TestRegistry.Start();
        using var cli = new RegistryCli();
        string xar = cli.MakeXar("app.xar", 200_000);
        var first = cli.Run("push", xar, registry.Address + "/apps/tool:1", "--plain-http", "-v");
        first.EnsureSuccess("first push");
        Assert.True(RegistryCli.UploadRequests(first) >= 2, first.StandardError); // the file and the empty config
        var second = cli.Run("push", xar, registry.Address + "/apps/tool:2", "--plain-http", "-v");
        second.EnsureSuccess("second push");
        Assert.Equal(0, RegistryCli.UploadRequests(second));
        Assert.Contains("already in the registry", second.StandardError);
        Assert.Equal(first.StandardOutput, second.StandardOutput); // same manifest, same digest
        // The registry's own log agrees: one upload session for the file, one for the config, none after.
        Assert.Equal(2, File.ReadAllLines(registry.LogPath).Count(l => l.Contains("\"POST /v2/apps/tool/blobs/uploads/", StringComparison.Ordinal)));
    }

    [SkippableFact]
    public void AnUnchangedFilePushedAgainIsNotHashedAChangedOneIs()
    {
        using var registry = TestRegistry.Start();
        using var cli = new RegistryCli();
        string xar = cli.MakeXar("app.xar", 200_000);
        // A file changed less than XarDigestCache.Settle before its hash is not recorded (timestamps are coarse).
        Thread.Sleep(TimeSpan.FromSeconds(2.2));
        var first = cli.Run("push", xar, registry.Address + "/apps/tool:1", "--plain-http", "-v");
        first.EnsureSuccess("first push");
        Assert.DoesNotContain("digest from the cache", first.StandardError);
        string record = Assert.Single(Directory.GetFiles(Path.Combine(cli.Cache, "digests")));
        Assert.EndsWith(" " + RegistryCli.Digest(xar), File.ReadAllText(record).TrimEnd());

        var second = cli.Run("push", xar, registry.Address + "/apps/tool:2", "--plain-http", "-v");
        second.EnsureSuccess("second push");
        Assert.Contains("digest from the cache", second.StandardError);
        Assert.Contains("already in the registry", second.StandardError);
        Assert.Equal(first.StandardOutput, second.StandardOutput);

        // Changed in place, same size: the ctime moved, so the record no longer counts and the file is hashed.
        using (var f = new FileStream(xar, FileMode.Open, FileAccess.ReadWrite))
        {
            f.Position = f.Length / 2;
            int b = f.ReadByte();
            f.Position = f.Length / 2;
            f.WriteByte((byte)(b ^ 0x20));
        }
        var third = cli.Run("push", xar, registry.Address + "/apps/tool:3", "--plain-http", "-v");
        third.EnsureSuccess("push of the changed file");
        Assert.DoesNotContain("digest from the cache", third.StandardError);
        Assert.Contains(RegistryCli.Digest(xar) + " (", third.StandardError);
        Assert.Contains(": uploaded", third.StandardError);
        Assert.NotEqual(first.StandardOutput, third.StandardOutput);

        // gc deletes records unused for --older-than.
        File.SetLastWriteTimeUtc(record, DateTime.UtcNow.AddDays(-40));
        Assert.Contains("deleted: " + record, cli.Run("gc", "-v").EnsureSuccess("gc").StandardOutput);
        Assert.False(File.Exists(record));
    }

    /// <summary>A XAR pushed once to apps/tool:1, settled first so that the push records its digest: the file and the record.</summary>
    private static (string Xar, string Record) PushedOnceWithItsDigestRecorded(TestRegistry registry, RegistryCli cli)
    {
        string xar = cli.MakeXar("app.xar", 200_000);
        Thread.Sleep(TimeSpan.FromSeconds(2.2)); // settled, so the first push records its digest
        cli.Run("push", xar, registry.Address + "/apps/tool:1", "--plain-http").EnsureSuccess("first push");
        return (xar, Assert.Single(Directory.GetFiles(Path.Combine(cli.Cache, "digests"))));
    }

    [SkippableFact]
    public void ADigestRecordTheRegistryRefusesIsForgottenAndTheFileHashed()
    {
        using var registry = TestRegistry.Start();
        using var cli = new RegistryCli();
        var (xar, record) = PushedOnceWithItsDigestRecorded(registry, cli);
        // A record naming other bytes (the file changed with its timestamps put back), for a blob the registry lacks.
        string text = File.ReadAllText(record).TrimEnd();
        string wrong = "sha256:" + new string('0', 64);
        File.WriteAllText(record, text[..text.LastIndexOf(' ')] + " " + wrong + "\n");

        var push = cli.Run("push", xar, registry.Address + "/apps/other:1", "--plain-http", "-v");
        push.EnsureSuccess("push with a wrong record");
        Assert.DoesNotContain(wrong, push.StandardOutput);
        Assert.Contains(RegistryCli.Digest(xar), push.StandardError);
        // The record now holds the right digest, and the pushed manifest names it.
        Assert.EndsWith(" " + RegistryCli.Digest(xar), File.ReadAllText(record).TrimEnd());
        var pulled = cli.Run("pull", registry.Address + "/apps/other:1", "-o", cli["pulled.xar"], "--plain-http");
        pulled.EnsureSuccess("pull");
        Assert.Equal(File.ReadAllBytes(xar), File.ReadAllBytes(cli["pulled.xar"]));
    }

    [SkippableFact]
    public void APushThatFailsForAnotherReasonKeepsTheDigestRecordAndTriesOnce()
    {
        using var registry = TestRegistry.Start();
        using var cli = new RegistryCli();
        var (xar, record) = PushedOnceWithItsDigestRecorded(registry, cli);
        string before = File.ReadAllText(record);

        // Nothing listens on port 1: the push fails before any digest is questioned.
        var push = cli.Run("push", xar, "127.0.0.1:1/apps/tool:2", "--plain-http");
        Assert.Equal(1, push.ExitCode);
        Assert.Single(push.StandardError.Split('\n', StringSplitOptions.RemoveEmptyEntries));
        Assert.Equal(before, File.ReadAllText(record)); // not forgotten: it was never refused
    }

    [SkippableFact]
    public void APullIntoAFullCacheFailsInOneLineAndKeepsNothing()
    {
        TestEnv.RequireRoot();
        using var registry = TestRegistry.Start();
        using var cli = new RegistryCli();
        string xar = cli.MakeXar("big.xar", 6 << 20);
        cli.Run("push", xar, registry.Address + "/apps/big:1", "--plain-http").EnsureSuccess("push");
        Directory.CreateDirectory(cli.Cache);
        TestEnv.Run("mount", "-t", "tmpfs", "-o", "size=2m,mode=0700", "tmpfs", cli.Cache).EnsureSuccess("mount a small tmpfs");
        try
        {
            var r = cli.Run("pull", registry.Address + "/apps/big:1", "-o", cli["out.xar"], "--plain-http");
            Assert.Equal(1, r.ExitCode);
            string line = Assert.Single(r.StandardError.Split('\n', StringSplitOptions.RemoveEmptyEntries));
            Assert.Contains("no space left on the device", line);
            Assert.Contains("the partial download was removed", line);
            Assert.False(File.Exists(cli["out.xar"]));
            // Nothing of the download holds the space: no partial file, no lock, no blob.
            Assert.Empty(Directory.GetFiles(Path.Combine(cli.Cache, "blobs", "sha256"), "*", SearchOption.AllDirectories));
        }
        finally
        {
            TestEnv.Run("umount", cli.Cache);
        }
    }

    [SkippableFact]
    public void ABigFileIsHashedWhileItGoesUpAndNotKeptUploadingOnceTheRegistryHasIt()
    {
        using var registry = TestRegistry.Start();
        using var cli = new RegistryCli();
        string xar = cli.MakeXar("big.xar", 48 << 20); // over XarPush.SpeculateFrom
        cli.ExtraEnvironment["XAR_PUSH_CHUNK_MIB"] = "4";
        var first = cli.Run("push", xar, registry.Address + "/apps/big:1", "--plain-http", "-v");
        first.EnsureSuccess("first push");
        Assert.Contains(": uploaded", first.StandardError);
        // All of it in PATCH requests (the digest not known yet), then the closing PUT without a body.
        long chunks = (new FileInfo(xar).Length + (4 << 20) - 1) / (4 << 20);
        Assert.Equal(chunks, first.StandardError.Split('\n').Count(l => l.StartsWith("xar: PATCH ", StringComparison.Ordinal)));

        var second = cli.Run("push", xar, registry.Address + "/apps/big:2", "--plain-http", "-v");
        second.EnsureSuccess("second push");
        Assert.Contains("already in the registry", second.StandardError);
        Assert.DoesNotContain("xar: PUT /v2/apps/big/blobs/uploads/", second.StandardError);
        // The upload started while hashing was cancelled and its session ended.
        Assert.Contains("xar: DELETE /v2/apps/big/blobs/uploads/", second.StandardError);
        Assert.Equal(first.StandardOutput, second.StandardOutput);
        cli.Run("pull", registry.Address + "/apps/big:2", "-o", cli["out"], "--plain-http").EnsureSuccess("pull");
        Assert.Equal(RegistryCli.Digest(xar), RegistryCli.Digest(cli["out"]));
    }

    [SkippableFact]
    public void PullByDigestAndASecondPullDownloadsNothing()
    {
        using var registry = TestRegistry.Start();
        using var cli = new RegistryCli();
        string xar = cli.MakeXar("app.xar", 100_000);
        string digest = cli.Run("push", xar, registry.Address + "/apps/tool:1", "--plain-http").EnsureSuccess("push").StandardOutput.Trim();
        var first = cli.Run("pull", registry.Address + "/apps/tool@" + digest, "-o", cli["a"], "--plain-http", "-v");
        first.EnsureSuccess("pull by digest");
        Assert.Equal(File.ReadAllBytes(xar), File.ReadAllBytes(cli["a"]));
        Assert.Contains("/blobs/sha256:", first.StandardError);
        var second = cli.Run("pull", registry.Address + "/apps/tool@" + digest, "-o", cli["b"], "--plain-http", "-v");
        second.EnsureSuccess("second pull");
        Assert.DoesNotContain("/blobs/", second.StandardError);
        Assert.Contains("from the cache", second.StandardError);
        Assert.Equal(File.ReadAllBytes(xar), File.ReadAllBytes(cli["b"]));
        // Again onto the same output (one inode with the cached copy already): no temporary file is left.
        cli.Run("pull", registry.Address + "/apps/tool@" + digest, "-o", cli["b"], "--plain-http").EnsureSuccess("pull onto itself");
        Assert.Equal(File.ReadAllBytes(xar), File.ReadAllBytes(cli["b"]));
        Assert.Empty(Directory.GetFiles(cli["."], ".b.*"));
    }

    [SkippableFact]
    public void PullByAnotherDigestIsNotFound()
    {
        using var registry = TestRegistry.Start();
        using var cli = new RegistryCli();
        string xar = cli.MakeXar("app.xar", 1000);
        cli.Run("push", xar, registry.Address + "/apps/tool:1", "--plain-http").EnsureSuccess("push");
        var r = cli.Run("pull", registry.Address + "/apps/tool@sha256:" + new string('0', 64), "-o", cli["out"], "--plain-http");
        RegistryCli.AssertFailure(r, 2, "not found");
        Assert.False(File.Exists(cli["out"]));
    }

    [SkippableFact]
    public void ATamperedBlobIsDetectedAndLeavesNoFile()
    {
        using var registry = TestRegistry.Start();
        using var cli = new RegistryCli();
        string xar = cli.MakeXar("app.xar", 300_000);
        cli.Run("push", xar, registry.Address + "/apps/tool:1", "--plain-http").EnsureSuccess("push");
        string data = registry.BlobDataPath(RegistryCli.Digest(xar));
        using (var f = new FileStream(data, FileMode.Open, FileAccess.ReadWrite))
        {
            f.Position = 200_000;
            int b = f.ReadByte();
            f.Position = 200_000;
            f.WriteByte((byte)(b ^ 0x40));
        }
        var r = cli.Run("pull", registry.Address + "/apps/tool:1", "-o", cli["out"], "--plain-http");
        RegistryCli.AssertFailure(r, 2, "digest mismatch");
        Assert.False(File.Exists(cli["out"]));
        Assert.Empty(Directory.GetFiles(cli["."], ".out*"));
        Assert.Empty(Directory.GetFiles(Path.Combine(cli.Cache, "blobs", "sha256")));
    }

    [SkippableFact]
    public void ATamperedManifestIsDetectedByTagAndByDigest()
    {
        using var registry = TestRegistry.Start();
        using var cli = new RegistryCli();
        string xar = cli.MakeXar("app.xar", 5000);
        string digest = cli.Run("push", xar, registry.Address + "/apps/tool:1", "--plain-http").EnsureSuccess("push").StandardOutput.Trim();
        // The registry keeps manifests as blobs: a byte changed there (the title's first letter) is served as is.
        string data = registry.BlobDataPath(digest);
        string json = File.ReadAllText(data);
        File.WriteAllText(data, json.Replace("\"app.xar\"", "\"bpp.xar\""));
        foreach (string reference in new[] { "/apps/tool@" + digest, "/apps/tool:1" })
        {
            var r = cli.Run("pull", registry.Address + reference, "-o", cli["out"], "--plain-http");
            RegistryCli.AssertFailure(r, 2, "manifest digest mismatch");
            Assert.False(File.Exists(cli["out"]));
        }
    }

    [SkippableFact]
    public void ManifestCarriesArtifactTypeAndAnnotations()
    {
        using var registry = TestRegistry.Start();
        using var cli = new RegistryCli();
        string xar = cli.MakeXar("tool.xar", 5000);
        cli.Run("push", xar, registry.Address + "/apps/tool:1", "--plain-http", "--annotation", "org.opencontainers.image.source=internal", "-a", "team=infra").EnsureSuccess("push");
        TestEnv.RequireTool("curl");
        var curl = TestEnv.Run(TestEnv.FindTool("curl")!, "-sf", "-H", "Accept: application/vnd.oci.image.manifest.v1+json", $"http://{registry.Address}/v2/apps/tool/manifests/1").EnsureSuccess("curl");
        using var doc = JsonDocument.Parse(curl.StandardOutput);
        var root = doc.RootElement;
        Assert.Equal("application/vnd.oci.image.manifest.v1+json", root.GetProperty("mediaType").GetString());
        Assert.Equal("application/vnd.xar.v1", root.GetProperty("artifactType").GetString());
        var config = root.GetProperty("config");
        Assert.Equal("application/vnd.oci.empty.v1+json", config.GetProperty("mediaType").GetString());
        Assert.Equal("sha256:44136fa355b3678a1146ad16f7e8649e94fb4fc21fe77e8310c060f61caaff8a", config.GetProperty("digest").GetString());
        var layer = Assert.Single(root.GetProperty("layers").EnumerateArray());
        Assert.Equal("application/vnd.xar.layer.v1.xar", layer.GetProperty("mediaType").GetString());
        Assert.Equal(RegistryCli.Digest(xar), layer.GetProperty("digest").GetString());
        Assert.Equal(new FileInfo(xar).Length, layer.GetProperty("size").GetInt64());
        var annotations = root.GetProperty("annotations");
        var header = TestEnv.Run(XarBinary.Path, "info", xar, "--json").EnsureSuccess("info").StandardOutput;
        Assert.Equal("tool.xar", annotations.GetProperty("org.opencontainers.image.title").GetString());
        string uuid = annotations.GetProperty("xar.uuid").GetString()!;
        Assert.Matches("^[0-9a-f]{8,}$", uuid);
        Assert.Contains(uuid, header);
        Assert.Contains(annotations.GetProperty("xar.version").GetString()!, header);
        Assert.Equal("xar_bootstrap.sh", annotations.GetProperty("xar.xarexec_target").GetString());
        Assert.Equal("internal", annotations.GetProperty("org.opencontainers.image.source").GetString());
        Assert.Equal("infra", annotations.GetProperty("team").GetString());
        // The empty config blob is there, and is "{}".
        var blob = TestEnv.Run(TestEnv.FindTool("curl")!, "-sf", $"http://{registry.Address}/v2/apps/tool/blobs/sha256:44136fa355b3678a1146ad16f7e8649e94fb4fc21fe77e8310c060f61caaff8a").EnsureSuccess("curl config");
        Assert.Equal("{}", blob.StandardOutput);
    }

    [SkippableFact]
    public void BareImagesAndSelfContainedFilesHaveTheirOwnMediaTypes()
    {
        using var registry = TestRegistry.Start();
        using var cli = new RegistryCli();
        string tree = cli["sq-tree"];
        Directory.CreateDirectory(tree);
        File.WriteAllText(Path.Combine(tree, "f"), "x");
        cli.Run("pack", tree, "-o", cli["img.sqfs"], "--format", "squashfs", "-q").EnsureSuccess("pack squashfs");
        var push = cli.Run("push", cli["img.sqfs"], registry.Address + "/apps/img:1", "--plain-http", "-v");
        push.EnsureSuccess("push image");
        Assert.Contains("application/vnd.xar.layer.v1.squashfs", push.StandardError);
        cli.Run("pull", registry.Address + "/apps/img:1", "-o", cli["img2"], "--plain-http").EnsureSuccess("pull image");
        Assert.Equal(File.ReadAllBytes(cli["img.sqfs"]), File.ReadAllBytes(cli["img2"]));

        string runtime = Path.Combine(Path.GetDirectoryName(XarBinary.Path)!, "xarexec");
        TestEnv.Require(File.Exists(runtime), "needs the published xarexec beside xar (make publish)");
        File.WriteAllText(Path.Combine(tree, "run"), "#!/bin/sh\necho hi\n");
        File.SetUnixFileMode(Path.Combine(tree, "run"), (UnixFileMode)0x1ED);
        cli.Run("pack", tree, "-o", cli["app"], "--exec", "run", "--self-contained", "-q").EnsureSuccess("pack self-contained");
        var pushSc = cli.Run("push", cli["app"], registry.Address + "/apps/sc:1", "--plain-http", "-v");
        pushSc.EnsureSuccess("push self-contained");
        Assert.Contains("application/vnd.xar.layer.v1.self-contained", pushSc.StandardError);
    }
}
