using System.Net;
using System.Net.Sockets;
using System.Security.Cryptography;
using System.Text;

namespace Xar.Distribution.Tests;

/// <summary>
/// A registry on 127.0.0.1, on a bare socket, that a test can make misbehave request by request: <see cref="Handler"/>
/// sees each request first and answers it however it likes (raw bytes, a stall, a redirect), or returns false to let
/// the ordinary answer go: one XAR artifact (tag "1" of apps/tool, its blob with Range), uploads taken (POST, PATCH,
/// PUT ?digest=) and manifests stored. It keeps every request head it got.
/// </summary>
public sealed class HostileRegistry : IDisposable
{
    private readonly TcpListener _listener = new(IPAddress.Loopback, 0);
    private readonly CancellationTokenSource _stop = new();
    private readonly StringBuilder _requests = new();

    public HostileRegistry(byte[] blob, string layerMediaType = "application/vnd.xar.layer.v1.xar")
    {
        Blob = blob;
        Digest = "sha256:" + Convert.ToHexStringLower(SHA256.HashData(blob));
        Manifest = Encoding.UTF8.GetBytes($$"""
            {"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json","artifactType":"application/vnd.xar.v1",
             "config":{"mediaType":"application/vnd.oci.empty.v1+json","digest":"{{XarMediaTypes.EmptyConfigDigest}}","size":2},
             "layers":[{"mediaType":"{{layerMediaType}}","digest":"{{Digest}}","size":{{blob.Length}}}]}
            """);
        _listener.Start();
        Address = "127.0.0.1:" + ((IPEndPoint)_listener.LocalEndpoint).Port;
        _ = Task.Run(AcceptAsync);
    }

    public string Address { get; }

    /// <summary>Tag "1" of apps/tool here.</summary>
    public string Reference => Address + "/apps/tool:1";

    public byte[] Blob { get; }
    public string Digest { get; }
    public byte[] Manifest { get; set; }

    /// <summary>Sees each request first; true when it answered it.</summary>
    public Func<Exchange, Task<bool>>? Handler { get; set; }

    public string Requests
    {
        get
        {
            lock (_requests)
                return _requests.ToString();
        }
    }

    /// <summary>One request, and the connection to answer it on.</summary>
    public sealed class Exchange(string method, string path, string head, NetworkStream stream, CancellationToken stop)
    {
        public string Method { get; } = method;
        public string Path { get; } = path;
        public string Head { get; } = head;
        public NetworkStream Stream { get; } = stream;
        public CancellationToken Stop { get; } = stop;

        public Task RawAsync(string text) => Stream.WriteAsync(Encoding.ASCII.GetBytes(text), Stop).AsTask();

        public async Task AnswerAsync(string status, byte[] body, string headers = "", string type = "application/json")
        {
            await RawAsync($"HTTP/1.1 {status}\r\nContent-Type: {type}\r\nContent-Length: {body.Length}\r\n{headers}\r\n");
            await Stream.WriteAsync(body, Stop);
        }

        /// <summary>Sends nothing more, holding the connection open, until the registry is disposed.</summary>
        public Task HoldAsync() => Task.Delay(Timeout.Infinite, Stop);
    }

    private async Task AcceptAsync()
    {
        while (!_stop.IsCancellationRequested)
        {
            TcpClient client;
            try
            {
                client = await _listener.AcceptTcpClientAsync(_stop.Token);
            }
            catch (Exception e) when (e is OperationCanceledException or SocketException or ObjectDisposedException)
            {
                return;
            }
            _ = Task.Run(() => ServeAsync(client));
        }
    }

    private async Task ServeAsync(TcpClient client)
    {
        using (client)
        {
            try
            {
                var stream = client.GetStream();
                while (await ReadHeadAsync(stream) is { } head)
                {
                    lock (_requests)
                        _requests.Append(head);
                    string[] lines = head.Split("\r\n");
                    string[] first = lines[0].Split(' ');
                    var exchange = new Exchange(first[0], first[1], head, stream, _stop.Token);
                    // The request's body (uploads): read and dropped, so the next request on the connection is found.
                    string? length = lines.FirstOrDefault(l => l.StartsWith("Content-Length:", StringComparison.OrdinalIgnoreCase));
                    if (length is not null && long.Parse(length["Content-Length:".Length..].Trim()) is > 0 and var count)
                        await SkipAsync(stream, count);
                    if (Handler is { } handler && await handler(exchange))
                        continue;
                    await AnswerAsync(exchange, lines);
                }
            }
            catch (Exception e) when (e is OperationCanceledException or SocketException or IOException or ObjectDisposedException)
            {
            }
        }
    }

    private async Task AnswerAsync(Exchange x, string[] lines)
    {
        const string repo = "/v2/apps/tool/";
        string path = x.Path.Split('?')[0];
        if (path == "/v2/")
            await x.AnswerAsync("200 OK", "{}"u8.ToArray());
        else if (path == repo + "manifests/1" && x.Method is "GET" or "HEAD")
            await x.AnswerAsync("200 OK", x.Method == "HEAD" ? [] : Manifest, type: XarMediaTypes.Manifest);
        else if (path == repo + "blobs/" + Digest && x.Method == "GET")
        {
            long from = 0;
            string? range = lines.FirstOrDefault(l => l.StartsWith("Range: bytes=", StringComparison.OrdinalIgnoreCase));
            if (range is not null)
                from = long.Parse(range["Range: bytes=".Length..].TrimEnd('-'));
            string extra = from > 0 ? $"Content-Range: bytes {from}-{Blob.Length - 1}/{Blob.Length}\r\n" : "";
            await x.AnswerAsync(from > 0 ? "206 Partial Content" : "200 OK", Blob[(int)from..], extra, "application/octet-stream");
        }
        else if (x.Method == "HEAD")
            await x.RawAsync("HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\n\r\n");
        else if (x.Method is "POST" or "PATCH" && path.StartsWith(repo + "blobs/uploads/", StringComparison.Ordinal))
            await x.AnswerAsync("202 Accepted", [], $"Location: {repo}blobs/uploads/u1\r\n");
        else if (x.Method == "PUT" && path.StartsWith(repo + "blobs/uploads/", StringComparison.Ordinal))
            await x.AnswerAsync("201 Created", []);
        else if (x.Method == "PUT" && path.StartsWith(repo + "manifests/", StringComparison.Ordinal))
            await x.AnswerAsync("201 Created", []);
        else
            await x.AnswerAsync("404 Not Found", """{"errors":[{"code":"NOT_FOUND","message":"unknown"}]}"""u8.ToArray());
    }

    private async Task SkipAsync(NetworkStream stream, long count)
    {
        var buffer = new byte[64 << 10];
        while (count > 0)
        {
            int n = await stream.ReadAsync(buffer.AsMemory(0, (int)Math.Min(buffer.Length, count)), _stop.Token);
            if (n == 0)
                throw new IOException("the client closed the connection in a request body");
            count -= n;
        }
    }

    /// <summary>A request's head (up to the blank line), or null at the end of the connection.</summary>
    private async Task<string?> ReadHeadAsync(NetworkStream stream)
    {
        var head = new List<byte>();
        var one = new byte[1];
        while (!(head.Count >= 4 && head[^4] == '\r' && head[^3] == '\n' && head[^2] == '\r' && head[^1] == '\n'))
        {
            if (await stream.ReadAsync(one, _stop.Token) == 0)
                return null;
            head.Add(one[0]);
        }
        return Encoding.ASCII.GetString(head.ToArray());
    }

    public void Dispose()
    {
        _stop.Cancel();
        _listener.Stop();
    }
}
