using System.Net;
using System.Net.Http.Headers;
using System.Text;
using System.Text.Json;
using Microsoft.Win32.SafeHandles;

namespace Xar.Distribution;

/// <summary>
/// The part of the OCI distribution spec xar needs, for one repository: the API check, authentication (basic, or a
/// bearer token from the challenge's realm), blob HEAD / upload (monolithic or chunked) / download (with Range), and
/// manifest PUT / GET. Bodies are streamed, never held whole. Failures are <see cref="RegistryException"/>s whose
/// messages hold no credential or token.
/// </summary>
public sealed class RegistryClient : IDisposable
{
    /// <summary>A manifest larger than this is refused (registries accept at least 4 MiB; a XAR manifest is under 2 KiB).</summary>
    public const int MaxManifestBytes = 4 << 20;

    /// <summary>A token server's answer larger than this is refused (a JWT is a few KiB).</summary>
    public const int MaxTokenBytes = 1 << 20;

    /// <summary>How many redirects a download follows (each one checked against the plain-HTTP rule first).</summary>
    private const int MaxRedirects = 5;

    private readonly HttpClient _http;
    private readonly ImageReference _reference;
    private readonly RegistryClientOptions _options;
    private readonly Uri _base;
    private readonly string _scope;
    private string? _authorization;
    private bool _checked;
    private bool _sentCredentials;

    public RegistryClient(ImageReference reference, bool push, RegistryClientOptions options)
    {
        _reference = reference;
        _options = options;
        var (host, port) = ImageReference.HostAndPort(reference.Registry);
        if (options.PlainHttp && !PlainHttpPolicy.IsAllowed(host, port))
            throw new RegistryException($"--plain-http is only for a registry on loopback or one listed in {PlainHttpPolicy.Variable} ({reference.Registry} is neither)", badInput: true);
        _base = new Uri((options.PlainHttp ? "http://" : "https://") + reference.Registry + "/");
        _scope = $"repository:{reference.Repository}:{(push ? "pull,push" : "pull")}";
        var handler = new SocketsHttpHandler
        {
            // Blob downloads may be redirected to storage: followed by SendRawAsync, which checks each target against
            // the plain-HTTP rule before connecting (the handler would follow http:// to any host).
            AllowAutoRedirect = false,
            AutomaticDecompression = DecompressionMethods.None,
            ConnectTimeout = TimeSpan.FromSeconds(30),
            UseCookies = false,
            // HTTPS_PROXY, HTTP_PROXY and NO_PROXY are honored, as curl and docker do, except for loopback (as Go's tools):
            // a proxy would see a loopback registry's plain-HTTP credentials.
            Proxy = new LoopbackBypassProxy(HttpClient.DefaultProxy),
            UseProxy = true,
        };
        // Every body is read as a stream with a limit of its own; this is a backstop should one be buffered.
        _http = new HttpClient(handler) { Timeout = Timeout.InfiniteTimeSpan, MaxResponseContentBufferSize = 64 << 10 };
        _http.DefaultRequestHeaders.UserAgent.ParseAdd("xar");
    }

    private string RepositoryPath => "v2/" + _reference.Repository;

    /// <summary>True when the registry has the blob (HEAD).</summary>
    public async Task<bool> BlobExistsAsync(string digest, CancellationToken ct)
    {
        using var response = await SendAsync(() => new HttpRequestMessage(HttpMethod.Head, RepositoryPath + "/blobs/" + digest), ct);
        if (response.StatusCode == HttpStatusCode.NotFound)
            return false;
        await EnsureSuccessAsync(response, "checking blob " + digest, ct);
        return true;
    }

    /// <summary>
    /// Uploads <paramref name="length"/> bytes of <paramref name="file"/> from offset 0 as the blob <paramref name="digest"/>:
    /// one PUT when it fits in a chunk, else PATCH requests with Content-Range, then the closing PUT ?digest=.
    /// </summary>
    public async Task UploadBlobAsync(SafeFileHandle file, long length, string digest, Action<long>? progress, CancellationToken ct)
    {
        string location = await StartUploadAsync(ct);
        await UploadAsync(location, file, length, Task.FromResult(digest), speculative: false, progress, ct);
    }

    /// <summary>
    /// Uploads the file into the session <paramref name="location"/> (from <see cref="StartUploadAsync"/>) before its
    /// digest is known: all of it in PATCH requests, then an empty PUT ?digest= once <paramref name="digest"/> is done.
    /// Cancel it and <see cref="CancelUploadAsync"/> when the registry turns out to have the blob.
    /// </summary>
    public Task UploadBlobSpeculativelyAsync(string location, SafeFileHandle file, long length, Task<string> digest, Action<long>? progress, CancellationToken ct) =>
        UploadAsync(location, file, length, digest, speculative: true, progress, ct);

    private async Task UploadAsync(string location, SafeFileHandle file, long length, Task<string> digestTask, bool speculative,
        Action<long>? progress, CancellationToken ct)
    {
        long sent = 0;
        string what = digestTask.IsCompletedSuccessfully ? "uploading blob " + digestTask.Result : "uploading the file";
        if (length > _options.ChunkSize || speculative)
        {
            while (sent < length)
            {
                long start = sent, count = Math.Min(_options.ChunkSize, length - sent);
                string at = location;
                using var response = await SendAsync(() =>
                {
                    var request = new HttpRequestMessage(HttpMethod.Patch, at)
                    {
                        Content = new FileRangeContent(file, start, count, done => progress?.Invoke(start + done)),
                    };
                    request.Content.Headers.ContentType = new MediaTypeHeaderValue("application/octet-stream");
                    request.Content.Headers.TryAddWithoutValidation("Content-Range", $"{start}-{start + count - 1}");
                    return request;
                }, ct);
                await EnsureStatusAsync(response, HttpStatusCode.Accepted, what, ct);
                location = NextLocation(response, location);
                sent += count;
            }
        }
        string digest = await digestTask;
        what = "uploading blob " + digest;
        long remaining = length - sent;
        string final = AppendQuery(location, "digest=" + Uri.EscapeDataString(digest));
        using (var response = await SendAsync(() =>
        {
            var request = new HttpRequestMessage(HttpMethod.Put, final)
            {
                Content = remaining > 0 ? new FileRangeContent(file, sent, remaining, done => progress?.Invoke(sent + done)) : new ByteArrayContent([]),
            };
            request.Content.Headers.ContentType = new MediaTypeHeaderValue("application/octet-stream");
            return request;
        }, ct))
            await EnsureStatusAsync(response, HttpStatusCode.Created, what, ct);
    }

    /// <summary>Ends an upload session that is not needed (DELETE), as a courtesy: the registry expires it anyway.</summary>
    public async Task CancelUploadAsync(string location)
    {
        try
        {
            using var response = await SendAsync(() => new HttpRequestMessage(HttpMethod.Delete, location), CancellationToken.None);
        }
        catch (RegistryException)
        {
        }
    }

    /// <summary>Uploads a small blob held in memory (the empty config).</summary>
    public async Task UploadSmallBlobAsync(byte[] data, string digest, CancellationToken ct)
    {
        string location = await StartUploadAsync(ct);
        string final = AppendQuery(location, "digest=" + Uri.EscapeDataString(digest));
        using var response = await SendAsync(() =>
        {
            var request = new HttpRequestMessage(HttpMethod.Put, final) { Content = new ByteArrayContent(data) };
            request.Content.Headers.ContentType = new MediaTypeHeaderValue("application/octet-stream");
            return request;
        }, ct);
        await EnsureStatusAsync(response, HttpStatusCode.Created, "uploading blob " + digest, ct);
    }

    /// <summary>Opens an upload session (POST); its Location.</summary>
    public async Task<string> StartUploadAsync(CancellationToken ct)
    {
        using var response = await SendAsync(() => new HttpRequestMessage(HttpMethod.Post, RepositoryPath + "/blobs/uploads/") { Content = new ByteArrayContent([]) }, ct);
        await EnsureStatusAsync(response, HttpStatusCode.Accepted, "starting an upload", ct);
        return NextLocation(response, null);
    }

    /// <summary>PUTs the manifest under <paramref name="tag"/>; returns the digest the registry confirms (which must be ours).</summary>
    public async Task PutManifestAsync(byte[] manifest, string digest, string tag, CancellationToken ct)
    {
        using var response = await SendAsync(() =>
        {
            var request = new HttpRequestMessage(HttpMethod.Put, RepositoryPath + "/manifests/" + tag) { Content = new ByteArrayContent(manifest) };
            request.Content.Headers.ContentType = new MediaTypeHeaderValue(XarMediaTypes.Manifest);
            return request;
        }, ct);
        await EnsureStatusAsync(response, HttpStatusCode.Created, "storing the manifest", ct);
        if (response.Headers.TryGetValues("Docker-Content-Digest", out var values) && values.FirstOrDefault() is { } confirmed && confirmed != digest)
            throw new RegistryException($"the registry stored the manifest as {RegistryText.Shown(confirmed)}, not as {digest}");
    }

    /// <summary>The manifest <paramref name="reference"/> (tag or digest) names: its bytes, and the digest the registry gave (or null).</summary>
    public async Task<(byte[] Body, string? MediaType, string? RegistryDigest)> GetManifestAsync(string reference, CancellationToken ct)
    {
        using var response = await SendAsync(() =>
        {
            var request = new HttpRequestMessage(HttpMethod.Get, RepositoryPath + "/manifests/" + reference);
            request.Headers.Accept.ParseAdd(XarMediaTypes.Manifest);
            return request;
        }, ct, HttpCompletionOption.ResponseHeadersRead);
        if (response.StatusCode == HttpStatusCode.NotFound)
            throw await ErrorAsync(response, $"{_reference}: not found", badInput: true, ct);
        await EnsureStatusAsync(response, HttpStatusCode.OK, "reading the manifest", ct);
        if (response.Content.Headers.ContentLength > MaxManifestBytes)
            throw new RegistryException($"the manifest is larger than {MaxManifestBytes} bytes: not a XAR artifact", badInput: true);
        await using var stream = await response.Content.ReadAsStreamAsync(ct);
        var body = new MemoryStream();
        var buffer = new byte[64 << 10];
        int n;
        while ((n = await ReadAsync(stream, buffer, "reading the manifest", "the manifest", response.RequestMessage?.RequestUri, ct)) > 0)
        {
            if (body.Length + n > MaxManifestBytes)
                throw new RegistryException($"the manifest is larger than {MaxManifestBytes} bytes: not a XAR artifact", badInput: true);
            body.Write(buffer, 0, n);
        }
        string? digest = response.Headers.TryGetValues("Docker-Content-Digest", out var values) ? values.FirstOrDefault() : null;
        return (body.ToArray(), response.Content.Headers.ContentType?.MediaType, digest);
    }

    /// <summary>
    /// One read of a response body, failing with "<paramref name="what"/>: registry stopped sending for N s" when no
    /// byte came for <see cref="RegistryClientOptions.IdleTimeout"/>, and with "registry HOST closed the connection
    /// while sending <paramref name="body"/>" when the connection broke (left to the caller when it names no body).
    /// </summary>
    private async ValueTask<int> ReadAsync(Stream stream, Memory<byte> buffer, string what, string? body, Uri? source, CancellationToken ct)
    {
        using var idle = _options.IdleTimeout == Timeout.InfiniteTimeSpan ? null : new IdleTimer(_options.IdleTimeout, ct);
        try
        {
            return await stream.ReadAsync(buffer, idle?.Token ?? ct);
        }
        catch (OperationCanceledException) when (idle is { Expired: true })
        {
            throw new RegistryException($"{what}: {idle.Describe()}");
        }
        catch (IOException e) when (body is not null && IsBrokenConnection(e))
        {
            throw ConnectionClosed("while sending " + body, source);
        }
    }

    /// <summary>
    /// True when <paramref name="e"/> says a connection that was made broke: the peer closed it before a body's end
    /// (HttpIOException, ResponseEnded) or before its answer, or reset it or stopped taking what we sent (an
    /// IOException over a SocketException). Never a connection that could not be made ("cannot reach").
    /// </summary>
    public static bool IsBrokenConnection(Exception e)
    {
        if (e is HttpRequestException { HttpRequestError: HttpRequestError.NameResolutionError or HttpRequestError.ConnectionError
            or HttpRequestError.SecureConnectionError or HttpRequestError.ProxyTunnelError })
            return false;
        for (Exception? x = e; x is not null; x = x.InnerException)
        {
            if (x is HttpIOException { HttpRequestError: HttpRequestError.ResponseEnded } or HttpRequestException { HttpRequestError: HttpRequestError.ResponseEnded })
                return true;
            if (x is System.Net.Sockets.SocketException { SocketErrorCode: System.Net.Sockets.SocketError.ConnectionReset
                or System.Net.Sockets.SocketError.ConnectionAborted or System.Net.Sockets.SocketError.Shutdown })
                return true;
        }
        return false;
    }

    /// <summary>
    /// "registry HOST:PORT closed the connection <paramref name="when"/>": one line for a broken connection, in place
    /// of .NET's message, which names its own enum ("(ResponseEnded)") and neither the registry nor what was moving.
    /// A <paramref name="source"/> on another host (a token server, storage a redirect led to) is named instead.
    /// </summary>
    public RegistryException ConnectionClosed(string when, Uri? source = null) =>
        new($"{(source is not { IsAbsoluteUri: true } || source.Authority == _base.Authority ? "registry " + RegistryText.Shown(_reference.Registry) : RegistryText.Shown(source.Authority))} closed the connection {when}");

    /// <summary>
    /// Starts downloading blob <paramref name="digest"/> from byte <paramref name="from"/> (a Range request when not 0).
    /// The caller reads the response (206 with the range, or 200 with the whole blob) and disposes it.
    /// </summary>
    public async Task<HttpResponseMessage> GetBlobAsync(string digest, long from, CancellationToken ct)
    {
        var response = await SendAsync(() =>
        {
            var request = new HttpRequestMessage(HttpMethod.Get, RepositoryPath + "/blobs/" + digest);
            if (from > 0)
                request.Headers.Range = new RangeHeaderValue(from, null);
            return request;
        }, ct, HttpCompletionOption.ResponseHeadersRead, from > 0 ? $" (Range: bytes={from}-)" : "");
        if (response.StatusCode is HttpStatusCode.OK or HttpStatusCode.PartialContent or HttpStatusCode.RequestedRangeNotSatisfiable)
            return response;
        using (response)
        {
            if (response.StatusCode == HttpStatusCode.NotFound)
                throw await ErrorAsync(response, $"blob {digest} is not in {_reference.Registry}/{_reference.Repository}", badInput: true, ct);
            await EnsureSuccessAsync(response, "downloading blob " + digest, ct);
            throw new RegistryException($"downloading blob {digest}: HTTP {(int)response.StatusCode}");
        }
    }

    /// <summary>
    /// Sends a request made by <paramref name="make"/> (called again for a retry, so bodies are made anew), with our
    /// authorization; a 401 is answered once by authenticating as its challenge asks, then the request is sent again.
    /// </summary>
    private async Task<HttpResponseMessage> SendAsync(Func<HttpRequestMessage> make, CancellationToken ct,
        HttpCompletionOption completion = HttpCompletionOption.ResponseHeadersRead, string logSuffix = "")
    {
        await CheckApiAsync(ct);
        for (int attempt = 0; ; attempt++)
        {
            var request = make();
            var response = await SendRawAsync(request, completion, authorize: true, logSuffix, ct);
            if (response.StatusCode != HttpStatusCode.Unauthorized)
                return response;
            if (attempt > 0)
            {
                response.Dispose();
                throw new RegistryException(_options.Credentials is null
                    ? $"{_reference.Registry}: authentication required, and no credentials for it in {DockerConfig.FilePath() ?? "~/.docker/config.json"}"
                    : $"{_reference.Registry}: authentication failed: the registry refused the credentials");
            }
            var challenge = Challenge(response);
            response.Dispose();
            await AuthenticateAsync(challenge, ct);
        }
    }

    /// <summary>GET /v2/: the registry speaks the API; a 401 tells how to authenticate, which is done once here for our scope.</summary>
    private async Task CheckApiAsync(CancellationToken ct)
    {
        if (_checked)
            return;
        _checked = true;
        // Its body is not needed: never read (a huge one is dropped with the response).
        using var response = await SendRawAsync(new HttpRequestMessage(HttpMethod.Get, "v2/"), HttpCompletionOption.ResponseHeadersRead, authorize: false, "", ct);
        if (response.StatusCode == HttpStatusCode.Unauthorized)
        {
            await AuthenticateAsync(Challenge(response), ct);
            return;
        }
        if (!response.IsSuccessStatusCode)
            throw new RegistryException($"{_reference.Registry}: not an OCI registry (GET /v2/: HTTP {(int)response.StatusCode})");
    }

    private AuthChallenge Challenge(HttpResponseMessage response)
    {
        foreach (var value in response.Headers.WwwAuthenticate)
            if (AuthChallenge.Parse(value.ToString()) is { } c && (c.IsBasic || c.IsBearer))
                return c;
        throw new RegistryException($"{_reference.Registry}: authentication required, with no Basic or Bearer challenge xar can answer");
    }

    private async Task AuthenticateAsync(AuthChallenge challenge, CancellationToken ct)
    {
        var credentials = _options.Credentials;
        if (challenge.IsBasic)
        {
            if (credentials is null)
                throw new RegistryException($"{_reference.Registry}: authentication required, and no credentials for it in {DockerConfig.FilePath() ?? "~/.docker/config.json"}");
            if (_sentCredentials)
                throw new RegistryException($"{_reference.Registry}: authentication failed: the registry refused the credentials");
            _sentCredentials = true;
            _authorization = "Basic " + credentials.BasicHeaderValue;
            return;
        }
        // Bearer: a token for the challenge's scope (or ours, when it names none) from its realm.
        if (challenge["realm"] is not { Length: > 0 } realm || !Uri.TryCreate(realm, UriKind.Absolute, out var realmUri) ||
            (realmUri.Scheme != Uri.UriSchemeHttps && realmUri.Scheme != Uri.UriSchemeHttp))
            throw new RegistryException($"{_reference.Registry}: a Bearer challenge without a usable realm");
        if (realmUri.Scheme == Uri.UriSchemeHttp && !PlainHttpPolicy.IsAllowed(realmUri.IdnHost.Trim('[', ']'), realmUri.IsDefaultPort ? null : realmUri.Port))
            throw new RegistryException($"{_reference.Registry}: its token server {realmUri.GetLeftPart(UriPartial.Path)} is plain HTTP and not on loopback or in {PlainHttpPolicy.Variable}: not sending credentials there");
        var query = new StringBuilder();
        if (challenge["service"] is { } service)
            query.Append("service=").Append(Uri.EscapeDataString(service));
        string scope = challenge["scope"] is { Length: > 0 } asked ? asked : _scope;
        query.Append(query.Length > 0 ? "&" : "").Append("scope=").Append(Uri.EscapeDataString(scope));
        var builder = new UriBuilder(realmUri) { Query = (realmUri.Query.Length > 1 ? realmUri.Query[1..] + "&" : "") + query };
        var request = new HttpRequestMessage(HttpMethod.Get, builder.Uri);
        if (credentials is not null)
            request.Headers.Authorization = new AuthenticationHeaderValue("Basic", credentials.BasicHeaderValue);
        using var response = await SendRawAsync(request, HttpCompletionOption.ResponseHeadersRead, authorize: false, "", ct);
        if (response.StatusCode is HttpStatusCode.Unauthorized or HttpStatusCode.Forbidden)
            throw new RegistryException(credentials is null
                ? $"{_reference.Registry}: authentication required, and no credentials for it in {DockerConfig.FilePath() ?? "~/.docker/config.json"}"
                : $"{_reference.Registry}: authentication failed: the token server refused the credentials (HTTP {(int)response.StatusCode})");
        if (!response.IsSuccessStatusCode)
            throw new RegistryException($"{_reference.Registry}: the token server answered HTTP {(int)response.StatusCode}");
        string tooBig = $"{_reference.Registry}: the token server's answer is larger than {MaxTokenBytes >> 20} MiB";
        if (response.Content.Headers.ContentLength > MaxTokenBytes)
            throw new RegistryException(tooBig);
        byte[] body = await ReadAtMostAsync(response, MaxTokenBytes + 1, "reading the token", "the token", ct);
        if (body.Length > MaxTokenBytes)
            throw new RegistryException(tooBig);
        TokenResponse? token;
        try
        {
            token = JsonSerializer.Deserialize(body, DistributionJson.Default.TokenResponse);
        }
        catch (JsonException)
        {
            token = null;
        }
        string? value = token?.Token is { Length: > 0 } t ? t : token?.AccessToken;
        if (string.IsNullOrEmpty(value))
            throw new RegistryException($"{_reference.Registry}: the token server gave no token");
        // It goes into a header line as it is: CR, LF or any other byte outside RFC 6750's b64token would let the token
        // server write headers of its own into our requests.
        if (!IsBearerToken(value))
            throw new RegistryException($"{_reference.Registry}: the token server gave a token with characters a bearer token cannot hold (RFC 6750 b64token)");
        _sentCredentials = true;
        _authorization = "Bearer " + value;
    }

    /// <summary>RFC 6750's b64token: 1*( ALPHA / DIGIT / "-" / "." / "_" / "~" / "+" / "/" ) *"=".</summary>
    internal static bool IsBearerToken(string value)
    {
        int end = value.Length;
        while (end > 0 && value[end - 1] == '=')
            end--;
        if (end == 0)
            return false;
        foreach (char c in value.AsSpan(0, end))
            if (!(char.IsAsciiLetterOrDigit(c) || c is '-' or '.' or '_' or '~' or '+' or '/'))
                return false;
        return true;
    }

    /// <summary>
    /// Sends <paramref name="request"/>; a GET or HEAD answered by a redirect is sent again to its Location (without
    /// our Authorization, as HttpClient did), each target checked by <see cref="CheckTarget"/> before any connection.
    /// </summary>
    private async Task<HttpResponseMessage> SendRawAsync(HttpRequestMessage request, HttpCompletionOption completion, bool authorize, string logSuffix, CancellationToken ct)
    {
        var response = await SendOnceAsync(request, completion, authorize, logSuffix, ct);
        for (int hops = 0; IsRedirect(response.StatusCode) && (request.Method == HttpMethod.Get || request.Method == HttpMethod.Head); hops++)
        {
            if (response.Headers.Location is not { } location)
                return response;
            var from = request.RequestUri!;
            response.Dispose();
            if (hops == MaxRedirects)
                throw new RegistryException($"{request.Method} {RegistryText.Shown(from.AbsolutePath)}: more than {MaxRedirects} redirects");
            var target = location.IsAbsoluteUri ? location : new Uri(from, location);
            CheckTarget(target, from, "a redirect");
            var next = new HttpRequestMessage(request.Method, target);
            foreach (var header in request.Headers)
                if (!header.Key.Equals("Authorization", StringComparison.OrdinalIgnoreCase))
                    next.Headers.TryAddWithoutValidation(header.Key, header.Value);
            request = next;
            response = await SendOnceAsync(request, completion, authorize: false, logSuffix, ct);
        }
        return response;
    }

    private static bool IsRedirect(HttpStatusCode status) => (int)status is 301 or 302 or 303 or 307 or 308;

    /// <summary>
    /// A URL the registry sends us to (a redirect, an upload Location) must be HTTP(S), must not leave HTTPS for plain
    /// HTTP, and over plain HTTP must be one <see cref="PlainHttpPolicy"/> allows: checked before connecting to it.
    /// </summary>
    private void CheckTarget(Uri target, Uri from, string what)
    {
        if (target.Scheme != Uri.UriSchemeHttp && target.Scheme != Uri.UriSchemeHttps)
            throw new RegistryException($"{_reference.Registry}: {what} to a {RegistryText.Shown(target.Scheme)}: URL; only HTTP(S) is followed");
        if (target.Scheme != Uri.UriSchemeHttp)
            return;
        if (from.Scheme == Uri.UriSchemeHttps)
            throw new RegistryException($"{_reference.Registry}: {what} that downgrades to plain HTTP ({RegistryText.Shown(target.Authority)})");
        if (!PlainHttpPolicy.IsAllowed(target.IdnHost.Trim('[', ']'), target.IsDefaultPort ? null : target.Port))
            throw new RegistryException($"{_reference.Registry}: {what} to {RegistryText.Shown(target.Authority)} over plain HTTP, which is neither loopback nor listed in {PlainHttpPolicy.Variable}: refused");
    }

    private async Task<HttpResponseMessage> SendOnceAsync(HttpRequestMessage request, HttpCompletionOption completion, bool authorize, string logSuffix, CancellationToken ct)
    {
        if (!request.RequestUri!.IsAbsoluteUri)
            request.RequestUri = new Uri(_base, request.RequestUri);
        if (authorize && _authorization is not null && request.RequestUri.Authority == _base.Authority)
            request.Headers.TryAddWithoutValidation("Authorization", _authorization);
        HttpResponseMessage response;
        // The idle timer covers sending the request (a file body kicks it at each slice it hands over) and waiting for
        // the answer's headers (and its body, with ResponseContentRead: small ones); a blob's body is the caller's.
        using var idle = new IdleTimer(_options.IdleTimeout, ct);
        if (request.Content is FileRangeContent file)
            file.Idle = idle;
        try
        {
            response = await _http.SendAsync(request, completion, idle.Token);
        }
        catch (OperationCanceledException) when (idle.Expired)
        {
            throw new RegistryException($"{request.Method} {request.RequestUri.AbsolutePath}: {idle.Describe()}");
        }
        catch (HttpRequestException e) when (IsBrokenConnection(e))
        {
            // Reached, then the registry hung up (or reset) before its answer's headers, maybe mid-upload.
            throw ConnectionClosed($"before answering {request.Method} {RegistryText.Shown(request.RequestUri.AbsolutePath)}", request.RequestUri);
        }
        catch (HttpRequestException e)
        {
            string hint = !_options.PlainHttp && e.HttpRequestError == HttpRequestError.SecureConnectionError && PlainHttpPolicy.IsLoopback(_reference.Host)
                ? " (a loopback registry without TLS needs --plain-http)" : "";
            throw new RegistryException($"cannot reach {RegistryText.Shown(request.RequestUri.Authority)}: {Describe(e)}{hint}");
        }
        _options.Log?.Invoke($"{request.Method} {request.RequestUri.AbsolutePath}{logSuffix} {(int)response.StatusCode}");
        return response;
    }

    private static string Describe(HttpRequestException e)
    {
        string message = e.InnerException is { } inner && inner.Message != e.Message ? e.Message + ": " + inner.Message : e.Message;
        return RegistryText.Shown(message, 400); // it may quote what the server sent (an invalid status line)
    }

    private Task EnsureStatusAsync(HttpResponseMessage response, HttpStatusCode expected, string what, CancellationToken ct) =>
        response.StatusCode == expected ? Task.CompletedTask : ThrowAsync(response, what, ct);

    private Task EnsureSuccessAsync(HttpResponseMessage response, string what, CancellationToken ct) =>
        response.IsSuccessStatusCode ? Task.CompletedTask : ThrowAsync(response, what, ct);

    private async Task ThrowAsync(HttpResponseMessage response, string what, CancellationToken ct) =>
        throw await ErrorAsync(response, what, badInput: response.StatusCode == HttpStatusCode.NotFound, ct);

    /// <summary>"WHAT: HTTP 404 MANIFEST_UNKNOWN: manifest unknown", from the spec's error body when there is one.</summary>
    private async Task<RegistryException> ErrorAsync(HttpResponseMessage response, string what, bool badInput, CancellationToken ct)
    {
        string detail = "";
        string? code = null;
        if (response.StatusCode == HttpStatusCode.Unauthorized)
            detail = " (authentication failed)";
        try
        {
            byte[] body = response.RequestMessage?.Method == HttpMethod.Head ? [] : await ReadAtMostAsync(response, 16 << 10, what, null, ct);
            if (body.Length > 0 && JsonSerializer.Deserialize(body, DistributionJson.Default.RegistryErrors)?.Errors is [var first, ..])
            {
                detail = $" {RegistryText.Shown(first.Code)}: {RegistryText.Shown(first.Message)}";
                code = first.Code;
            }
        }
        catch (Exception e) when (e is JsonException or HttpRequestException or IOException)
        {
        }
        return new RegistryException($"{what}: HTTP {(int)response.StatusCode}{detail}", badInput, code: code);
    }

    /// <summary>
    /// The first <paramref name="limit"/> bytes of a body (all of it when shorter), each read under the idle limit: an
    /// error body, too, may come from a registry that stops sending after its headers. <paramref name="body"/> names
    /// it in the error for a broken connection; null leaves that to the caller (an error body: the status says more).
    /// </summary>
    private async Task<byte[]> ReadAtMostAsync(HttpResponseMessage response, int limit, string what, string? body, CancellationToken ct)
    {
        await using var stream = await response.Content.ReadAsStreamAsync(ct);
        var buffer = new byte[limit];
        int total = 0, n;
        while (total < limit && (n = await ReadAsync(stream, buffer.AsMemory(total), what, body, response.RequestMessage?.RequestUri, ct)) > 0)
            total += n;
        return buffer[..total];
    }

    /// <summary>
    /// The Location of an upload, where the next request goes. The spec allows a relative one, which may lack the
    /// leading slash (<c>u1?state=...</c>): it is resolved against the URL of the request it answers (RFC 3986,
    /// section 5), not against the registry's root, then checked as any other target.
    /// </summary>
    private string NextLocation(HttpResponseMessage response, string? previous)
    {
        var location = response.Headers.Location;
        if (location is null)
            return previous ?? throw new RegistryException($"{_reference.Registry}: an upload answer without a Location");
        var from = response.RequestMessage?.RequestUri is { IsAbsoluteUri: true } sent ? sent : _base;
        var absolute = location.IsAbsoluteUri ? location : new Uri(from, location);
        CheckTarget(absolute, from, "an upload Location");
        return absolute.ToString();
    }

    private static string AppendQuery(string url, string query) => url + (url.Contains('?') ? "&" : "?") + query;

    public void Dispose() => _http.Dispose();
}
