using System.Net;
using System.Security.Cryptography;
using System.Text;

namespace Xar.Distribution.Tests;

/// <summary>
/// A registry that wants bearer tokens, on loopback, for testing the token challenge: Debian's docker-registry can
/// only check tokens with a certificate chain, so this fake plays both parts. Every /v2/ request without the token
/// gets <c>401 WWW-Authenticate: Bearer realm=".../token",service="fake-registry",scope="repository:apps/tool:pull"</c>;
/// <c>/token</c> gives the token for Basic credentials <see cref="TestRegistry.User"/>:<see cref="TestRegistry.Password"/>;
/// it serves one manifest (tag "1") and its blobs. It records the token requests' query strings.
/// </summary>
public sealed class FakeTokenRegistry : IDisposable
{
    public const string Token = "tok-3d1f-secret";
    private readonly HttpListener _listener = new();
    private readonly Dictionary<string, byte[]> _blobs = new();
    private readonly byte[] _manifest;
    private readonly Task _loop;

    public string Address { get; }
    public List<string> TokenQueries { get; } = new();
    public List<string> Requests { get; } = new();

    public FakeTokenRegistry(byte[] file)
    {
        int port = TestRegistry.FreePort();
        Address = "127.0.0.1:" + port;
        _listener.Prefixes.Add($"http://{Address}/");
        _listener.Start();
        string digest = "sha256:" + Convert.ToHexStringLower(SHA256.HashData(file));
        _blobs[digest] = file;
        _blobs[XarMediaTypes.EmptyConfigDigest] = "{}"u8.ToArray();
        _manifest = Encoding.UTF8.GetBytes($$"""
            {"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json","artifactType":"application/vnd.xar.v1",
             "config":{"mediaType":"application/vnd.oci.empty.v1+json","digest":"{{XarMediaTypes.EmptyConfigDigest}}","size":2},
             "layers":[{"mediaType":"application/vnd.xar.layer.v1.xar","digest":"{{digest}}","size":{{file.Length}}}]}
            """);
        _loop = Task.Run(ServeAsync);
    }

    private async Task ServeAsync()
    {
        while (_listener.IsListening)
        {
            HttpListenerContext context;
            try
            {
                context = await _listener.GetContextAsync();
            }
            catch (Exception e) when (e is HttpListenerException or ObjectDisposedException or InvalidOperationException)
            {
                return;
            }
            try
            {
                Handle(context);
            }
            catch (Exception e) when (e is HttpListenerException or IOException)
            {
            }
            finally
            {
                context.Response.Close();
            }
        }
    }

    private void Handle(HttpListenerContext context)
    {
        var request = context.Request;
        var response = context.Response;
        string path = request.Url!.AbsolutePath;
        lock (Requests)
            Requests.Add($"{request.HttpMethod} {path} {request.Headers["Authorization"]}");
        if (path == "/token")
        {
            lock (TokenQueries)
                TokenQueries.Add(request.Url.Query);
            string expected = "Basic " + Convert.ToBase64String(Encoding.UTF8.GetBytes(TestRegistry.User + ":" + TestRegistry.Password));
            if (request.Headers["Authorization"] != expected)
            {
                response.StatusCode = 401;
                return;
            }
            Write(response, 200, "application/json", Encoding.UTF8.GetBytes($$"""{"token":"{{Token}}","expires_in":300}"""));
            return;
        }
        if (request.Headers["Authorization"] != "Bearer " + Token)
        {
            response.Headers["WWW-Authenticate"] = $"Bearer realm=\"http://{Address}/token\",service=\"fake-registry\",scope=\"repository:apps/tool:pull\"";
            Write(response, 401, "application/json", """{"errors":[{"code":"UNAUTHORIZED","message":"authentication required"}]}"""u8.ToArray());
            return;
        }
        if (path == "/v2/")
            Write(response, 200, "application/json", "{}"u8.ToArray());
        else if (path == "/v2/apps/tool/manifests/1")
            Write(response, 200, XarMediaTypes.Manifest, _manifest);
        else if (path.StartsWith("/v2/apps/tool/blobs/", StringComparison.Ordinal) && _blobs.TryGetValue(path["/v2/apps/tool/blobs/".Length..], out var blob))
            Write(response, 200, "application/octet-stream", blob);
        else
            Write(response, 404, "application/json", """{"errors":[{"code":"NOT_FOUND","message":"unknown"}]}"""u8.ToArray());
    }

    private static void Write(HttpListenerResponse response, int status, string type, byte[] body)
    {
        response.StatusCode = status;
        response.ContentType = type;
        response.ContentLength64 = body.Length;
        response.OutputStream.Write(body);
    }

    public void Dispose()
    {
        _listener.Stop();
        _listener.Close();
        try
        {
            _loop.Wait(TimeSpan.FromSeconds(5));
        }
        catch (AggregateException)
        {
        }
    }
}
