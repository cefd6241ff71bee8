using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using Xar.Tests;

namespace Xar.Distribution.Tests;

/// <summary>
/// Debian's docker-registry (Distribution 2.8), the real peer, on 127.0.0.1 at a free port, with its storage and
/// config in a temporary folder; with <see cref="WithBasicAuth"/> it checks an htpasswd file (bcrypt, htpasswd -B).
/// Killed and removed on dispose.
/// </summary>
public sealed class TestRegistry : IDisposable
{
    public const string User = "xaruser";
    /// <summary>Distinctive, so a test can grep any output for it.</summary>
    public const string Password = "Pw-7f3c91e2-never-printed";

    private readonly TempDir _dir = new("registry");
    private readonly Process _process;

    public string Address { get; }
    public string Storage => _dir["storage"];
    public string LogPath => _dir["registry.log"];

    private TestRegistry(bool basicAuth)
    {
        string tool = TestEnv.FindTool("docker-registry") ?? TestEnv.FindTool("registry")!;
        int port = FreePort();
        Address = "127.0.0.1:" + port;
        string auth = "";
        if (basicAuth)
        {
            var htpasswd = TestEnv.Run(TestEnv.FindTool("htpasswd")!, "-Bbn", User, Password).EnsureSuccess("htpasswd");
            File.WriteAllText(_dir["htpasswd"], htpasswd.StandardOutput);
            auth = $"auth:\n  htpasswd:\n    realm: xar-test\n    path: {_dir["htpasswd"]}\n";
        }
        File.WriteAllText(_dir["config.yml"], $"""
            version: 0.1
            log:
              level: info
            storage:
              filesystem:
                rootdirectory: {Storage}
              delete:
                enabled: true
            http:
              addr: {Address}
            {auth}
            """);
        var psi = new ProcessStartInfo(tool) { UseShellExecute = false, RedirectStandardOutput = true, RedirectStandardError = true };
        psi.ArgumentList.Add("serve");
        psi.ArgumentList.Add(_dir["config.yml"]);
        _process = Process.Start(psi)!;
        var log = new StreamWriter(LogPath) { AutoFlush = true };
        var gate = new object();
        void Append(string? line)
        {
            if (line is null)
                return;
            lock (gate)
                log.WriteLine(line);
        }
        _process.OutputDataReceived += (_, e) => Append(e.Data);
        _process.ErrorDataReceived += (_, e) => Append(e.Data);
        _process.BeginOutputReadLine();
        _process.BeginErrorReadLine();
        WaitUntilServing();
    }

    public static TestRegistry Start() => Create(basicAuth: false);

    public static TestRegistry WithBasicAuth()
    {
        TestEnv.RequireTool("htpasswd");
        return Create(basicAuth: true);
    }

    private static TestRegistry Create(bool basicAuth)
    {
        TestEnv.Require(TestEnv.FindTool("docker-registry") is not null || TestEnv.FindTool("registry") is not null, "needs docker-registry (Debian package docker-registry)");
        return new TestRegistry(basicAuth);
    }

    public static int FreePort()
    {
        var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        int port = ((IPEndPoint)listener.LocalEndpoint).Port;
        listener.Stop();
        return port;
    }

    private void WaitUntilServing()
    {
        using var http = new HttpClient();
        for (int i = 0; i < 200; i++)
        {
            if (_process.HasExited)
                throw new InvalidOperationException($"docker-registry exited: {File.ReadAllText(LogPath)}");
            try
            {
                using var r = http.GetAsync($"http://{Address}/v2/").GetAwaiter().GetResult();
                if (r.StatusCode is HttpStatusCode.OK or HttpStatusCode.Unauthorized)
                    return;
            }
            catch (HttpRequestException)
            {
            }
            Thread.Sleep(50);
        }
        throw new TimeoutException("docker-registry did not start serving");
    }

    /// <summary>The file the registry keeps a blob's bytes in (its filesystem driver's layout).</summary>
    public string BlobDataPath(string digest)
    {
        string hex = digest["sha256:".Length..];
        return Path.Combine(Storage, "docker", "registry", "v2", "blobs", "sha256", hex[..2], hex, "data");
    }

    public void Dispose()
    {
        try
        {
            if (!_process.HasExited)
            {
                _process.Kill();
                _process.WaitForExit();
            }
        }
        catch (InvalidOperationException)
        {
        }
        _process.Dispose();
        _dir.Dispose();
    }
}
