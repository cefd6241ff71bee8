using System.Net;
using System.Net.Sockets;
using System.Text;

namespace Xar.Distribution.Tests;

/// <summary>
/// A TCP relay on loopback in front of a registry that passes its answers on slowly (<see cref="BytesPerSecond"/>),
/// so a test can kill a pull half-way, and that keeps what clients sent (request lines and headers: a pull sends no
/// bodies) for the test to read.
/// </summary>
public sealed class ThrottledProxy : IDisposable
{
    private readonly TcpListener _listener = new(IPAddress.Loopback, 0);
    private readonly IPEndPoint _target;
    private readonly StringBuilder _sent = new();
    private readonly CancellationTokenSource _stop = new();

    public int BytesPerSecond { get; set; } = 4 << 20;
    public string Address { get; }

    public ThrottledProxy(string target)
    {
        var (host, port) = ImageReference.HostAndPort(target);
        _target = new IPEndPoint(IPAddress.Parse(host), port!.Value);
        _listener.Start();
        Address = "127.0.0.1:" + ((IPEndPoint)_listener.LocalEndpoint).Port;
        _ = Task.Run(AcceptAsync);
    }

    /// <summary>Everything clients sent so far, as text.</summary>
    public string Sent
    {
        get
        {
            lock (_sent)
                return _sent.ToString();
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
            _ = Task.Run(() => RelayAsync(client));
        }
    }

    private async Task RelayAsync(TcpClient client)
    {
        using (client)
        using (var server = new TcpClient())
        {
            try
            {
                await server.ConnectAsync(_target, _stop.Token);
                var up = PumpAsync(client.GetStream(), server.GetStream(), record: true);
                var down = PumpAsync(server.GetStream(), client.GetStream(), record: false);
                await Task.WhenAny(up, down);
            }
            catch (Exception e) when (e is OperationCanceledException or SocketException or IOException or ObjectDisposedException)
            {
            }
        }
    }

    private async Task PumpAsync(NetworkStream from, NetworkStream to, bool record)
    {
        var buffer = new byte[16 << 10];
        try
        {
            int n;
            while ((n = await from.ReadAsync(buffer, _stop.Token)) > 0)
            {
                if (record)
                    lock (_sent)
                        _sent.Append(Encoding.Latin1.GetString(buffer, 0, n));
                await to.WriteAsync(buffer.AsMemory(0, n), _stop.Token);
                if (!record)
                    await Task.Delay(TimeSpan.FromSeconds((double)n / BytesPerSecond), _stop.Token);
            }
        }
        catch (Exception e) when (e is OperationCanceledException or SocketException or IOException or ObjectDisposedException)
        {
        }
        finally
        {
            try { to.Socket.Shutdown(SocketShutdown.Send); } catch (Exception e) when (e is SocketException or ObjectDisposedException) { }
        }
    }

    public void Dispose()
    {
        _stop.Cancel();
        _listener.Stop();
    }
}
