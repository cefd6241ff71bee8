using System.Net;
using System.Net.Sockets;
using System.Security.Cryptography;
using System.Text;

namespace Xar.Distribution.Tests;

/// <summary>
/// A minimal registry on loopback, written on a bare socket so it can misbehave as a real one never would on
/// purpose: it serves one XAR artifact (tag "1", its blob, with Range), and while <see cref="StallAfter"/> is set it
/// sends a blob's headers and its bytes up to that offset, then nothing more, holding the connection open. Uploads
/// start (POST: 202), then stall: a PATCH or PUT is neither read nor answered. It keeps the request heads it got.
/// </summary>
public sealed class StallingRegistry : IDisposable
{
    private readonly TcpListener _listener = new(IPAddress.Loopback, 0);
    private readonly CancellationTokenSource _stop = new();
    private readonly byte[] _blob;
    private readonly string _digest;
    private readonly byte[] _manifest;
    private readonly StringBuilder _requests = new();

    public StallingRegistry(byte[] blob)
    {
        _blob = blob;
        _digest = "sha256:" + Convert.ToHexStringLower(SHA256.HashData(blob));
        _manifest = Encoding.UTF8.GetBytes($$"""
            {"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json","artifactType":"application/vnd.xar.v1",
             "config":{"mediaType":"application/vnd.oci.empty.v1+json","digest":"{{XarMediaTypes.EmptyConfigDigest}}","size":2},
             "layers":[{"mediaType":"application/vnd.xar.layer.v1.xar","digest":"{{_digest}}","size":{{blob.Length}}}]}
            """);
        _listener.Start();
        Address = "127.0.0.1:" + ((IPEndPoint)_listener.LocalEndpoint).Port;
        _ = Task.Run(AcceptAsync);
    }

    public string Address { get; }

    /// <summary>The blob offset after which a blob download gets nothing more; null: it is served whole.</summary>
    public long? StallAfter { get; set; }

    public string Requests
    {
        get
        {
            lock (_requests)
                return _requests.ToString();
        }
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
                    string method = first[0], path = first[1];
                    if (path == "/v2/")
                        await AnswerAsync(stream, "200 OK", "application/json", "{}"u8.ToArray());
                    else if (path == "/v2/apps/tool/manifests/1")
                        await AnswerAsync(stream, "200 OK", XarMediaTypes.Manifest, _manifest);
                    else if (path == "/v2/apps/tool/blobs/" + _digest && method == "GET")
                        await SendBlobAsync(stream, lines);
                    else if (method == "HEAD")
                        await stream.WriteAsync("HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\n\r\n"u8.ToArray(), _stop.Token);
                    else if (method == "POST" && path == "/v2/apps/tool/blobs/uploads/")
                        await stream.WriteAsync("HTTP/1.1 202 Accepted\r\nLocation: /v2/apps/tool/blobs/uploads/u1\r\nContent-Length: 0\r\n\r\n"u8.ToArray(), _stop.Token);
                    else if (method is "PATCH" or "PUT")
                        await Task.Delay(Timeout.Infinite, _stop.Token); // takes nothing more, answers nothing
                    else
                        await AnswerAsync(stream, "404 Not Found", "application/json", """{"errors":[{"code":"NOT_FOUND","message":"unknown"}]}"""u8.ToArray());
                }
            }
            catch (Exception e) when (e is OperationCanceledException or SocketException or IOException or ObjectDisposedException)
            {
            }
        }
    }

    private async Task SendBlobAsync(NetworkStream stream, string[] lines)
    {
        long from = 0;
        string? range = lines.FirstOrDefault(l => l.StartsWith("Range: bytes=", StringComparison.OrdinalIgnoreCase));
        if (range is not null)
            from = long.Parse(range["Range: bytes=".Length..].TrimEnd('-'));
        string status = from > 0 ? "206 Partial Content" : "200 OK";
        string extra = from > 0 ? $"Content-Range: bytes {from}-{_blob.Length - 1}/{_blob.Length}\r\n" : "";
        await stream.WriteAsync(Encoding.ASCII.GetBytes(
            $"HTTP/1.1 {status}\r\nContent-Type: application/octet-stream\r\nContent-Length: {_blob.Length - from}\r\n{extra}\r\n"), _stop.Token);
        long end = StallAfter is { } stall ? Math.Clamp(stall, from, _blob.Length) : _blob.Length;
        await stream.WriteAsync(_blob.AsMemory((int)from, (int)(end - from)), _stop.Token);
        if (end < _blob.Length)
            await Task.Delay(Timeout.Infinite, _stop.Token); // the stall: the connection stays open, silent
    }

    private async Task AnswerAsync(NetworkStream stream, string status, string type, byte[] body)
    {
        await stream.WriteAsync(Encoding.ASCII.GetBytes($"HTTP/1.1 {status}\r\nContent-Type: {type}\r\nContent-Length: {body.Length}\r\n\r\n"), _stop.Token);
        await stream.WriteAsync(body, _stop.Token);
    }

    /// <summary>A request's head (up to the blank line; the client sends no bodies here), or null at the end of the connection.</summary>
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
