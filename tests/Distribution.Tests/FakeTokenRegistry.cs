using System.Net;
using System.Security.Cryptography;
using System.Text;

namespace Xar.Distribution.Tests;

/// <summary>
/// A registry that wants bearer tokens, on loopback, for testing the token challenge: Debian's docker-registry can
/// only check tokens with a certificate chain, so this fake plays both parts. A request without a token good for
/// what it does (pull: GET, HEAD; push: POST, PATCH, PUT) gets <c>401 WWW-Authenticate: Bearer
/// realm=".../token",service="fake-registry",scope="repository:apps/tool:ACTIONS"</c> (no scope for /v2/ itself);
/// <c>/token</c> gives a token for the scope asked, for Basic credentials
/// <see cref="TestRegistry.User"/>:<see cref="TestRegistry.Password"/>. It serves one manifest (tag "1") and its
/// blobs, and takes uploads (POST, PATCH, PUT ?digest=, checked) and manifests. It records the token requests' query
/// strings and every request (method, path, Authorization).
/// </summary>
public sealed class FakeTokenRegistry : IDisposable
{
    public const string Token = "tok-3d1f-secret";
    private readonly HttpListener _listener = new();
    private readonly Dictionary<string, byte[]> _blobs = new();
    private readonly Dictionary<string, string> _tokenScopes = new();
    private readonly Dictionary<string, MemoryStream> _uploads = new();
    private readonly Dictionary<string, byte[]> _manifests = new();
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
        _manifests["1"] = Encoding.UTF8.GetBytes($$"""
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
        string? authorization = request.Headers["Authorization"];
        lock (Requests)
            Requests.Add($"{request.HttpMethod} {path} {authorization}");
        if (path == "/token")
        {
            lock (TokenQueries)
                TokenQueries.Add(request.Url.Query);
            string expected = "Basic " + Convert.ToBase64String(Encoding.UTF8.GetBytes(TestRegistry.User + ":" + TestRegistry.Password));
            if (authorization != expected)
            {
                response.StatusCode = 401;
                return;
            }
            string scope = request.QueryString["scope"] ?? "";
            string token = Token + "-" + _tokenScopes.Count;
            lock (_tokenScopes)
                _tokenScopes[token] = scope;
            Write(response, 200, "application/json", Encoding.UTF8.GetBytes($$"""{"token":"{{token}}","expires_in":300}"""));
            return;
        }
        bool push = request.HttpMethod is "POST" or "PUT" or "PATCH";
        string? granted = null;
        if (authorization is not null && authorization.StartsWith("Bearer ", StringComparison.Ordinal))
            lock (_tokenScopes)
                _tokenScopes.TryGetValue(authorization[7..], out granted);
        bool allowed = granted is not null && (path == "/v2/" || granted.Split(':')[^1].Split(',').Contains(push ? "push" : "pull"));
        if (!allowed)
        {
            string scope = path == "/v2/" ? "" : $",scope=\"repository:apps/tool:{(push ? "pull,push" : "pull")}\"";
            response.Headers["WWW-Authenticate"] = $"Bearer realm=\"http://{Address}/token\",service=\"fake-registry\"{scope}";
            Write(response, 401, "application/json", """{"errors":[{"code":"UNAUTHORIZED","message":"authentication required"}]}"""u8.ToArray());
            return;
        }
        const string repo = "/v2/apps/tool/";
        byte[] body;
        using (var read = new MemoryStream())
        {
            request.InputStream.CopyTo(read);
            body = read.ToArray();
        }
        lock (_blobs)
        {
            if (path == "/v2/")
                Write(response, 200, "application/json", "{}"u8.ToArray());
            else if (path.StartsWith(repo + "manifests/", StringComparison.Ordinal) && request.HttpMethod == "PUT")
            {
                _manifests[path[(repo.Length + "manifests/".Length)..]] = body;
                response.Headers["Docker-Content-Digest"] = "sha256:" + Convert.ToHexStringLower(SHA256.HashData(body));
                Write(response, 201, "text/plain", []);
            }
            else if (path.StartsWith(repo + "manifests/", StringComparison.Ordinal) && _manifests.TryGetValue(path[(repo.Length + "manifests/".Length)..], out var manifest))
                Write(response, 200, XarMediaTypes.Manifest, manifest);
            else if (path == repo + "blobs/uploads/" && request.HttpMethod == "POST")
            {
                string id = Guid.NewGuid().ToString("N");
                _uploads[id] = new MemoryStream();
                response.Headers["Location"] = repo + "blobs/uploads/" + id;
                Write(response, 202, "text/plain", []);
            }
            else if (path.StartsWith(repo + "blobs/uploads/", StringComparison.Ordinal) && _uploads.TryGetValue(path[(repo.Length + "blobs/uploads/".Length)..], out var upload))
            {
                upload.Write(body);
                if (request.HttpMethod == "PATCH")
                {
                    response.Headers["Location"] = path;
                    Write(response, 202, "text/plain", []);
                    return;
                }
                string digest = request.QueryString["digest"] ?? "";
                byte[] data = upload.ToArray();
                if (digest != "sha256:" + Convert.ToHexStringLower(SHA256.HashData(data)))
                {
                    Write(response, 400, "application/json", """{"errors":[{"code":"DIGEST_INVALID","message":"digest does not match"}]}"""u8.ToArray());
                    return;
                }
                _blobs[digest] = data;
                Write(response, 201, "text/plain", []);
            }
            else if (path.StartsWith(repo + "blobs/", StringComparison.Ordinal) && _blobs.TryGetValue(path[(repo.Length + "blobs/".Length)..], out var blob))
                Write(response, 200, "application/octet-stream", request.HttpMethod == "HEAD" ? [] : blob, blob.Length);
            else
                Write(response, 404, "application/json", """{"errors":[{"code":"NOT_FOUND","message":"unknown"}]}"""u8.ToArray());
        }
    }

    private static void Write(HttpListenerResponse response, int status, string type, byte[] body, long? length = null)
    {
        response.StatusCode = status;
        response.ContentType = type;
        response.ContentLength64 = length ?? body.Length;
        if (body.Length > 0)
            response.OutputStream.Write(body);
    }

    public void Dispose()
    {
        _listener.Stop();
        try
        {
            _listener.Close();
        }
        catch (HttpListenerException)
        {
            // Managed HttpListener's Close after Stop looks its endpoint up again, binding the port anew: when another
            // socket took that port meanwhile it throws "Address already in use". The listener is stopped already.
        }
        try
        {
            _loop.Wait(TimeSpan.FromSeconds(5));
        }
        catch (AggregateException)
        {
        }
    }
}
