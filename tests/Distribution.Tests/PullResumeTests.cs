using System.Diagnostics;
using Xar.Tests;

namespace Xar.Distribution.Tests;

/// <summary>A pull killed half-way (kill -9) continues from where it stopped, with an HTTP Range request.</summary>
public sealed class PullResumeTests
{
    [SkippableFact]
    public void KilledPullResumesWithARangeRequest()
    {
        using var registry = TestRegistry.Start();
        using var cli = new RegistryCli();
        string xar = cli.MakeXar("big.xar", 24 << 20);
        string digest = RegistryCli.Digest(xar);
        cli.Run("push", xar, registry.Address + "/apps/big:1", "--plain-http").EnsureSuccess("push");
        using var proxy = new ThrottledProxy(registry.Address) { BytesPerSecond = 4 << 20 };

        string partial = Path.Combine(cli.Cache, "blobs", "sha256", "." + digest[7..] + ".part");
        var psi = new ProcessStartInfo(XarBinary.Path) { UseShellExecute = false, RedirectStandardError = true, RedirectStandardOutput = true };
        foreach (string a in new[] { "pull", proxy.Address + "/apps/big:1", "-o", cli["out"], "--plain-http" })
            psi.ArgumentList.Add(a);
        foreach (var (k, v) in cli.Environment)
            if (v is null) psi.Environment.Remove(k); else psi.Environment[k] = v;
        using (var pull = Process.Start(psi)!)
        {
            var clock = Stopwatch.StartNew();
            while (!(File.Exists(partial) && new FileInfo(partial).Length > (2 << 20)))
            {
                if (pull.HasExited)
                    Assert.Fail($"the pull ended (exit {pull.ExitCode}, {clock.Elapsed}) before it could be killed: {pull.StandardError.ReadToEnd()} {pull.StandardOutput.ReadToEnd()} partial: {File.Exists(partial)}, out: {File.Exists(cli["out"])}");
                Assert.True(clock.Elapsed < TimeSpan.FromSeconds(60), "the download did not start");
                Thread.Sleep(20);
            }
            pull.Kill(); // SIGKILL
            pull.WaitForExit();
        }
        long kept = new FileInfo(partial).Length;
        Assert.InRange(kept, 1, (24 << 20) - 1);
        Assert.False(File.Exists(cli["out"]));

        proxy.BytesPerSecond = 1 << 30;
        var resumed = cli.Run("pull", proxy.Address + "/apps/big:1", "-o", cli["out"], "--plain-http", "-v");
        resumed.EnsureSuccess("resumed pull");
        Assert.Contains("Range: bytes=" + kept + "-", proxy.Sent);
        Assert.Contains($"resumed at byte {kept}", resumed.StandardError);
        Assert.Equal(digest, RegistryCli.Digest(cli["out"]));
        Assert.False(File.Exists(partial));
    }
}
