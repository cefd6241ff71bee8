using System.Text;
using Xar.Tests;

namespace Xar.Distribution.Tests;

/// <summary>
/// What push and pull do against a registry that answers on purpose as no honest one would: error bodies that stop
/// coming, bodies without end, tokens that would inject headers, redirects and upload Locations that leave loopback
/// over plain HTTP, blobs that are no XAR, text full of terminal escapes. Every registry here is on 127.0.0.1; names
/// outside it are *.invalid, which cannot resolve, so nothing leaves loopback even when xar would follow them.
/// </summary>
public sealed class HostileRegistryTests
{
    private static (RegistryCli Cli, HostileRegistry Registry) Start(int size = 4000)
    {
        var cli = new RegistryCli { TimeoutMs = 60_000 };
        var registry = new HostileRegistry(File.ReadAllBytes(cli.MakeXar("app.xar", size)));
        return (cli, registry);
    }

    [Theory]
    [InlineData("manifests")]
    [InlineData("blobs")]
    public void AnErrorBodyThatStopsComingFailsAfterTheIdleLimit(string what)
    {
        var (cli, registry) = Start();
        using (cli)
        using (registry)
        {
            registry.Handler = async x =>
            {
                if (x.Method != "GET" || !x.Path.Contains($"/{what}/", StringComparison.Ordinal))
                    return false;
                await x.RawAsync("HTTP/1.1 404 Not Found\r\nContent-Type: application/json\r\nContent-Length: 1000\r\n\r\n{\"errors\":");
                await x.HoldAsync();
                return true;
            };
            cli.ExtraEnvironment["XAR_HTTP_TIMEOUT"] = "2";
            var r = cli.Run("pull", registry.Reference, "-o", cli["out"], "--plain-http");
            RegistryCli.AssertFailure(r, 1, "registry stopped sending for 2 s");
            Assert.False(File.Exists(cli["out"]));
        }
    }

    [Fact]
    public void AnApiCheckBodyWithoutEndIsNotRead()
    {
        var (cli, registry) = Start();
        using (cli)
        using (registry)
        {
            // 1 GiB announced, 1 MiB sent, then silence: the body of GET /v2/ is not needed, so it is not waited for.
            registry.Handler = async x =>
            {
                if (x.Path != "/v2/")
                    return false;
                await x.RawAsync("HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 1073741824\r\n\r\n");
                await x.Stream.WriteAsync(new byte[1 << 20], x.Stop);
                await x.HoldAsync();
                return true;
            };
            cli.ExtraEnvironment["XAR_HTTP_TIMEOUT"] = "3";
            cli.Run("pull", registry.Reference, "-o", cli["out"], "--plain-http").EnsureSuccess("pull");
            Assert.Equal(registry.Blob, File.ReadAllBytes(cli["out"]));
        }
    }

    /// <summary>A registry that wants a bearer token from its own /token, which answers with <paramref name="token"/>'s body.</summary>
    private static Func<HostileRegistry.Exchange, Task<bool>> BearerFrom(HostileRegistry registry, byte[] tokenAnswer) => async x =>
    {
        if (x.Path == "/v2/")
        {
            await x.AnswerAsync("401 Unauthorized", [], $"WWW-Authenticate: Bearer realm=\"http://{registry.Address}/token\",service=\"s\"\r\n");
            return true;
        }
        if (x.Path.StartsWith("/token", StringComparison.Ordinal))
        {
            await x.AnswerAsync("200 OK", tokenAnswer);
            return true;
        }
        return false;
    };

    [Fact]
    public void ATokenAnswerOverOneMiBIsRefused()
    {
        var (cli, registry) = Start();
        using (cli)
        using (registry)
        {
            byte[] huge = Encoding.ASCII.GetBytes("{\"token\":\"" + new string('a', 2 << 20) + "\"}");
            registry.Handler = BearerFrom(registry, huge);
            var r = cli.Run("pull", registry.Reference, "-o", cli["out"], "--plain-http");
            RegistryCli.AssertFailure(r, 1, "the token server's answer is larger than 1 MiB");
            Assert.False(File.Exists(cli["out"]));
        }
    }

    [Theory]
    [InlineData("abc\\r\\nX-Injected: yes")]
    [InlineData("abc def")]
    [InlineData("t\\u00e9")]
    public void ATokenThatIsNoBearerTokenIsRefused(string token)
    {
        var (cli, registry) = Start();
        using (cli)
        using (registry)
        {
            registry.Handler = BearerFrom(registry, Encoding.ASCII.GetBytes($$"""{"token":"{{token}}"}"""));
            var r = cli.Run("pull", registry.Reference, "-o", cli["out"], "--plain-http");
            RegistryCli.AssertFailure(r, 1, "RFC 6750");
            Assert.DoesNotContain("X-Injected", registry.Requests);
            Assert.DoesNotContain("/manifests/", registry.Requests);
        }
    }

    [Fact]
    public void ABearerTokenOfEveryAllowedCharacterIsUsed()
    {
        var (cli, registry) = Start();
        using (cli)
        using (registry)
        {
            registry.Handler = BearerFrom(registry, """{"token":"aZ09-._~+/=="}"""u8.ToArray());
            cli.Run("pull", registry.Reference, "-o", cli["out"], "--plain-http").EnsureSuccess("pull");
            Assert.Contains("Authorization: Bearer aZ09-._~+/==\r\n", registry.Requests);
        }
    }

    [Theory]
    [InlineData("http://xar-test.invalid:5000/blob", "XAR_PLAIN_HTTP_REGISTRIES")]
    [InlineData("http://xar-test.invalid/blob", "XAR_PLAIN_HTTP_REGISTRIES")]
    [InlineData("file:///etc/passwd", "only HTTP(S)")]
    public void ABlobRedirectThePlainHttpRuleForbidsIsNotFollowed(string location, string message)
    {
        var (cli, registry) = Start();
        using (cli)
        using (registry)
        {
            registry.Handler = async x =>
            {
                if (x.Method != "GET" || !x.Path.Contains("/blobs/", StringComparison.Ordinal))
                    return false;
                await x.AnswerAsync("307 Temporary Redirect", [], $"Location: {location}\r\n");
                return true;
            };
            var r = cli.Run("pull", registry.Reference, "-o", cli["out"], "--plain-http");
            RegistryCli.AssertFailure(r, 1, message);
            Assert.DoesNotContain("cannot reach", r.StandardError);
            Assert.False(File.Exists(cli["out"]));
        }
    }

    [Fact]
    public void ABlobRedirectOnLoopbackIsFollowedWithoutTheToken()
    {
        var (cli, registry) = Start();
        using (cli)
        using (registry)
        {
            var bearer = BearerFrom(registry, """{"token":"t0k"}"""u8.ToArray());
            registry.Handler = async x =>
            {
                if (await bearer(x))
                    return true;
                if (x.Method != "GET" || !x.Path.Contains("/blobs/", StringComparison.Ordinal) || x.Path.Contains('?'))
                    return false;
                await x.AnswerAsync("307 Temporary Redirect", [], $"Location: http://localhost:{registry.Address.Split(':')[1]}{x.Path}?storage=1\r\n");
                return true;
            };
            cli.Run("pull", registry.Reference, "-o", cli["out"], "--plain-http").EnsureSuccess("pull");
            Assert.Equal(registry.Blob, File.ReadAllBytes(cli["out"]));
            string storage = registry.Requests.Split("\r\n\r\n").Single(h => h.Contains("?storage=1"));
            Assert.DoesNotContain("Authorization", storage);
        }
    }

    [Theory]
    [InlineData("http://xar-test.invalid/v2/apps/tool/blobs/uploads/u1", "XAR_PLAIN_HTTP_REGISTRIES")]
    [InlineData("ftp://127.0.0.1/u1", "only HTTP(S)")]
    [InlineData("//xar-test.invalid/v2/apps/tool/blobs/uploads/u1", "XAR_PLAIN_HTTP_REGISTRIES")] // relative, to another host
    public void AnUploadLocationThePlainHttpRuleForbidsIsRefused(string location, string message)
    {
        var (cli, registry) = Start();
        using (cli)
        using (registry)
        {
            registry.Handler = async x =>
            {
                if (x.Method != "POST")
                    return false;
                await x.AnswerAsync("202 Accepted", [], $"Location: {location}\r\n");
                return true;
            };
            var r = cli.Run("push", cli["app.xar"], registry.Reference, "--plain-http");
            RegistryCli.AssertFailure(r, 1, message);
            Assert.DoesNotContain("cannot reach", r.StandardError);
            Assert.DoesNotContain("PATCH", registry.Requests);
            Assert.DoesNotContain("PUT", registry.Requests);
        }
    }

    /// <summary>
    /// The spec lets an upload Location be relative, and some registries send one without a leading slash: it is
    /// resolved against the request it answers (the POST's URL, then each PATCH's), not against the registry's root,
    /// and its query (the session's state) goes on as it came.
    /// </summary>
    [Theory]
    [InlineData("u7?_state=a%2Bb%3D", "/v2/apps/tool/blobs/uploads/u7?_state=a%2Bb%3D")]
    [InlineData("./u7?_state=a%2Bb%3D", "/v2/apps/tool/blobs/uploads/u7?_state=a%2Bb%3D")]
    [InlineData("../uploads/u7?_state=x", "/v2/apps/tool/blobs/uploads/u7?_state=x")]
    [InlineData("/v2/apps/tool/blobs/uploads/u7?_state=x", "/v2/apps/tool/blobs/uploads/u7?_state=x")]
    public void ARelativeUploadLocationIsResolvedAgainstTheRequest(string location, string resolved)
    {
        var (cli, registry) = Start(3 << 20);
        using (cli)
        using (registry)
        {
            registry.Handler = async x =>
            {
                if (x.Method == "POST")
                    await x.AnswerAsync("202 Accepted", [], $"Location: {location}\r\n");
                else if (x.Method == "PATCH" && x.Path.Contains("/uploads/u", StringComparison.Ordinal))
                    await x.AnswerAsync("202 Accepted", [], "Location: ../uploads/u8?_state=p%2Bq\r\n");
                else
                    return false;
                return true;
            };
            cli.ExtraEnvironment["XAR_PUSH_CHUNK_MIB"] = "1";
            cli.Run("push", cli["app.xar"], registry.Reference, "--plain-http").EnsureSuccess("push");
            string digest = RegistryCli.Digest(cli["app.xar"]);
            string[] heads = registry.Requests.Split("\r\n\r\n");
            Assert.Contains(heads, h => h.StartsWith($"PATCH {resolved} HTTP/1.1\r\n", StringComparison.Ordinal));
            Assert.Contains(heads, h => h.StartsWith("PATCH /v2/apps/tool/blobs/uploads/u8?_state=p%2Bq HTTP/1.1\r\n", StringComparison.Ordinal));
            Assert.Contains(heads, h => h.StartsWith($"PUT /v2/apps/tool/blobs/uploads/u8?_state=p%2Bq&digest={Uri.EscapeDataString(digest)} HTTP/1.1\r\n", StringComparison.Ordinal));
            // Every request went to the repository's upload path, none to one resolved against the root.
            Assert.All(heads.Where(h => h.StartsWith("PATCH ", StringComparison.Ordinal) || h.StartsWith("PUT ", StringComparison.Ordinal)),
                h => Assert.Matches(@"^(PATCH|PUT) /v2/apps/tool/(blobs/uploads/u[78]\?|manifests/1 )", h));
        }
    }

    /// <summary>Ends the exchange's connection: a FIN, or with <paramref name="reset"/> an RST (SO_LINGER 0).</summary>
    private static void HangUp(HostileRegistry.Exchange x, bool reset)
    {
        if (reset)
            x.Stream.Socket.LingerState = new System.Net.Sockets.LingerOption(true, 0);
        x.Stream.Socket.Close();
    }

    /// <summary>
    /// A connection that breaks in the middle of a body (the registry hangs up or resets it) is one line naming the
    /// registry and what was on its way, exit 1, never .NET's "The response ended prematurely. (ResponseEnded)"; a
    /// blob's bytes that came stay in the partial file, and the next pull continues from there.
    /// </summary>
    [Theory]
    [InlineData("manifests", false)]
    [InlineData("manifests", true)]
    [InlineData("blobs", false)]
    [InlineData("blobs", true)]
    public void AConnectionThatBreaksMidBodyIsOneClearLine(string what, bool reset)
    {
        var (cli, registry) = Start(200_000);
        using (cli)
        using (registry)
        {
            registry.Handler = async x =>
            {
                if (x.Method != "GET" || !x.Path.Contains($"/{what}/", StringComparison.Ordinal))
                    return false;
                byte[] body = what == "blobs" ? registry.Blob : registry.Manifest;
                await x.RawAsync($"HTTP/1.1 200 OK\r\nContent-Type: {(what == "blobs" ? "application/octet-stream" : XarMediaTypes.Manifest)}\r\nContent-Length: {body.Length}\r\n\r\n");
                await x.Stream.WriteAsync(body.AsMemory(0, body.Length / 2), x.Stop);
                await Task.Delay(200, x.Stop); // the half is received before the connection breaks
                HangUp(x, reset);
                return true;
            };
            var r = cli.Run("pull", registry.Reference, "-o", cli["out"], "--plain-http");
            string expected = what == "blobs"
                ? $"registry {registry.Address} closed the connection while sending blob {registry.Digest} (pull again to resume)"
                : $"registry {registry.Address} closed the connection while sending the manifest";
            RegistryCli.AssertFailure(r, 1, expected);
            Assert.DoesNotContain("ResponseEnded", r.StandardError);
            Assert.DoesNotContain("cannot reach", r.StandardError);
            Assert.False(File.Exists(cli["out"]));
            if (what != "blobs")
                return;
            string partial = Path.Combine(cli.Cache, "blobs", "sha256", "." + registry.Digest[7..] + ".part");
            long kept = new FileInfo(partial).Length;
            Assert.InRange(kept, reset ? 0 : registry.Blob.Length / 2, registry.Blob.Length / 2);
            registry.Handler = null;
            cli.Run("pull", registry.Reference, "-o", cli["out"], "--plain-http").EnsureSuccess("pull again");
            Assert.Equal(registry.Blob, File.ReadAllBytes(cli["out"]));
            if (kept > 0)
                Assert.Contains($"Range: bytes={kept}-", registry.Requests);
        }
    }

    /// <summary>A token server (here the registry under another name) that hangs up mid-answer is named, not the registry.</summary>
    [Fact]
    public void ATokenServerThatHangsUpMidAnswerIsNamed()
    {
        var (cli, registry) = Start();
        using (cli)
        using (registry)
        {
            string tokenServer = "localhost:" + registry.Address.Split(':')[1];
            registry.Handler = async x =>
            {
                if (x.Path == "/v2/")
                {
                    await x.AnswerAsync("401 Unauthorized", [], $"WWW-Authenticate: Bearer realm=\"http://{tokenServer}/token\",service=\"s\"\r\n");
                    return true;
                }
                if (!x.Path.StartsWith("/token", StringComparison.Ordinal))
                    return false;
                await x.RawAsync("HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n{\"token\":\"ab");
                await Task.Delay(200, x.Stop);
                HangUp(x, reset: false);
                return true;
            };
            var r = cli.Run("pull", registry.Reference, "-o", cli["out"], "--plain-http");
            RegistryCli.AssertFailure(r, 1, $": {tokenServer} closed the connection while sending the token");
            Assert.DoesNotContain("ResponseEnded", r.StandardError);
        }
    }

    /// <summary>Storage a blob redirect leads to (the registry under another name) that hangs up mid-body is named.</summary>
    [Fact]
    public void RedirectedStorageThatHangsUpMidBlobIsNamed()
    {
        var (cli, registry) = Start(200_000);
        using (cli)
        using (registry)
        {
            string storage = "localhost:" + registry.Address.Split(':')[1];
            registry.Handler = async x =>
            {
                if (x.Method != "GET" || !x.Path.Contains("/blobs/", StringComparison.Ordinal))
                    return false;
                if (!x.Path.Contains('?'))
                {
                    await x.AnswerAsync("307 Temporary Redirect", [], $"Location: http://{storage}{x.Path}?storage=1\r\n");
                    return true;
                }
                await x.RawAsync($"HTTP/1.1 200 OK\r\nContent-Type: application/octet-stream\r\nContent-Length: {registry.Blob.Length}\r\n\r\n");
                await x.Stream.WriteAsync(registry.Blob.AsMemory(0, 1000), x.Stop);
                await Task.Delay(200, x.Stop);
                HangUp(x, reset: false);
                return true;
            };
            var r = cli.Run("pull", registry.Reference, "-o", cli["out"], "--plain-http");
            RegistryCli.AssertFailure(r, 1, $": {storage} closed the connection while sending blob {registry.Digest} (pull again to resume)");
        }
    }

    /// <summary>A registry that hangs up on an upload instead of answering it: one line naming it and the request, exit 1.</summary>
    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void ARegistryThatHangsUpOnAnUploadIsOneClearLine(bool reset)
    {
        var (cli, registry) = Start();
        using (cli)
        using (registry)
        {
            registry.Handler = x =>
            {
                if (x.Method != "PUT" || !x.Path.Contains("/blobs/uploads/", StringComparison.Ordinal))
                    return Task.FromResult(false);
                HangUp(x, reset);
                return Task.FromResult(true);
            };
            var r = cli.Run("push", cli["app.xar"], registry.Reference, "--plain-http");
            RegistryCli.AssertFailure(r, 1, $"registry {registry.Address} closed the connection before answering PUT /v2/apps/tool/blobs/uploads/u1");
            Assert.DoesNotContain("cannot reach", r.StandardError);
            Assert.DoesNotContain("ResponseEnded", r.StandardError);
        }
    }

    [Fact]
    public void ALoopbackRegistryIsNeverReachedThroughAProxy()
    {
        var (cli, registry) = Start();
        using (cli)
        using (registry)
        using (var proxy = new HostileRegistry([0]))
        {
            cli.SaveCredentials(registry.Address, TestRegistry.User, TestRegistry.Password);
            foreach (string name in new[] { "HTTP_PROXY", "http_proxy", "HTTPS_PROXY", "ALL_PROXY" })
                cli.ExtraEnvironment[name] = "http://" + proxy.Address;
            cli.Run("pull", registry.Reference, "-o", cli["out"], "--plain-http").EnsureSuccess("pull");
            cli.Run("pull", registry.Reference.Replace("127.0.0.1", "localhost"), "-o", cli["out2"], "--plain-http").EnsureSuccess("pull via localhost");
            Assert.Equal("", proxy.Requests);
        }
    }

    [Fact]
    public void AnEarlierPulledCopyKeepsItsMode()
    {
        var (cli, registry) = Start();
        using (cli)
        using (registry)
        {
            cli.Run("pull", registry.Reference, "-o", cli["a"], "--plain-http").EnsureSuccess("pull a");
            File.SetUnixFileMode(cli["a"], UnixFileMode.UserRead | UnixFileMode.UserWrite);
            cli.Run("pull", registry.Reference, "-o", cli["b"], "--plain-http").EnsureSuccess("pull b");
            Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite, File.GetUnixFileMode(cli["a"]));
            Assert.Equal((UnixFileMode)0x1ED, File.GetUnixFileMode(cli["b"]));
            Assert.Equal(registry.Blob, File.ReadAllBytes(cli["b"]));
        }
    }

    [Theory]
    [InlineData("application/vnd.xar.layer.v1.xar", true, "not a XAR")]
    [InlineData("application/vnd.xar.layer.v1.self-contained", false, "not a self-contained XAR: the layer's bytes are a XAR")]
    [InlineData("application/vnd.xar.layer.v1.squashfs", false, "not a SquashFS image: the layer's bytes are a XAR")]
    public void ABlobThatIsNotWhatItsLayerTypeSaysIsNotPlaced(string layerType, bool script, string message)
    {
        using var cli = new RegistryCli { TimeoutMs = 60_000 };
        byte[] blob = script ? "#!/bin/sh\necho pulled and ran\n"u8.ToArray() : File.ReadAllBytes(cli.MakeXar("app.xar", 4000));
        using var registry = new HostileRegistry(blob, layerType);
        for (int i = 0; i < 2; i++) // downloaded, then found in the cache
        {
            var r = cli.Run("pull", registry.Reference, "-o", cli["out"], "--plain-http");
            RegistryCli.AssertFailure(r, 2, message);
            Assert.False(File.Exists(cli["out"]));
        }
    }

    [Fact]
    public void RegistryTextIsEscapedAndCut()
    {
        var (cli, registry) = Start();
        using (cli)
        using (registry)
        {
            registry.Handler = async x =>
            {
                if (!x.Path.Contains("/manifests/", StringComparison.Ordinal))
                    return false;
                await x.AnswerAsync("404 Not Found", Encoding.UTF8.GetBytes(
                    "{\"errors\":[{\"code\":\"\\u001b]0;owned\\u0007\",\"message\":\"\\u001b[31mred\\r\\nxar: forged " + new string('x', 5000) + "\"}]}"));
                return true;
            };
            var r = cli.Run("pull", registry.Reference, "-o", cli["out"], "--plain-http");
            RegistryCli.AssertFailure(r, 2, "\\x1b[31mred\\x0d\\x0axar: forged");
            Assert.DoesNotContain('\u001b', r.StandardError);
            Assert.DoesNotContain('\u0007', r.StandardError);
            Assert.True(r.StandardError.Length < 800, r.StandardError.Length.ToString());

            // A layer digest of 3 MB: one short line.
            registry.Handler = null;
            registry.Manifest = Encoding.UTF8.GetBytes(Encoding.UTF8.GetString(registry.Manifest).Replace(registry.Digest, "sha256:\\u001b[2J" + new string('f', 3 << 20)));
            r = cli.Run("pull", registry.Reference, "-o", cli["out"], "--plain-http");
            RegistryCli.AssertFailure(r, 2, "unusable digest");
            Assert.DoesNotContain('\u001b', r.StandardError);
            Assert.True(r.StandardError.Length < 800, r.StandardError.Length.ToString());
        }
    }

    [Fact]
    public void PushWithStandardOutputClosedFailsAndWritesNothingToStandardError()
    {
        var (cli, registry) = Start();
        using (cli)
        using (registry)
        {
            var r = TestEnv.Run(new RunOptions("bash", ["-c", "\"$@\" 1>&-", "bash", XarBinary.Path, "push", cli["app.xar"], registry.Reference, "--plain-http"])
            {
                Environment = cli.Environment, WorkingDirectory = cli["."], TimeoutMs = 60_000,
            });
            RegistryCli.AssertFailure(r, 1, "standard output: Bad file descriptor");
            Assert.DoesNotContain("sha256:", r.StandardError);
        }
    }
}
