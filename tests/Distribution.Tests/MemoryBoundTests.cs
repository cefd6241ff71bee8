using Xar.Tests;

namespace Xar.Distribution.Tests;

/// <summary>Push and pull stream the file: peak RSS stays under 64 MiB for a file several times that size.</summary>
public sealed class MemoryBoundTests
{
    [SkippableFact]
    public void PushAndPullOfA256MiBFileStayUnder64MiB()
    {
        TestEnv.RequireTool("python3");
        using var registry = TestRegistry.Start();
        using var cli = new RegistryCli();
        string xar = cli.MakeXar("big.xar", 256 << 20);
        long push = PeakRssKiB(cli, "push", xar, registry.Address + "/apps/big:1", "--plain-http");
        long pull = PeakRssKiB(cli, "pull", registry.Address + "/apps/big:1", "-o", cli["out"], "--plain-http");
        Assert.Equal(RegistryCli.Digest(xar), RegistryCli.Digest(cli["out"]));
        Assert.True(push < 64 * 1024, $"push peak RSS {push} KiB");
        Assert.True(pull < 64 * 1024, $"pull peak RSS {pull} KiB");
    }

    /// <summary>Runs xar through python3, which reports the child's peak RSS (getrusage, KiB).</summary>
    private static long PeakRssKiB(RegistryCli cli, params string[] args)
    {
        const string script = "import resource, subprocess, sys\n" +
            "r = subprocess.run(sys.argv[1:])\n" +
            "print(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss)\n" +
            "sys.exit(r.returncode)\n";
        var r = TestEnv.Run(new RunOptions(TestEnv.FindTool("python3")!, ["-c", script, XarBinary.Path, .. args]) { Environment = cli.Environment, WorkingDirectory = cli["."] });
        r.EnsureSuccess("xar " + args[0]);
        return long.Parse(r.StandardOutput.Trim().Split('\n')[^1], System.Globalization.CultureInfo.InvariantCulture);
    }
}
