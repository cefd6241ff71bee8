using System.Text;
using Xar.Tests;

namespace Xar.Launcher.Tests;

/// <summary>
/// When the target is xar's own bootstrap, the launcher execs the entrypoint the header names (XAR_EXEC,
/// XAR_EXEC_ARGS) itself, without the bootstrap's /bin/sh: the program gets exactly the arguments and
/// environment the bootstrap would give it (as Facebook's launcher, which runs the bootstrap, shows).
/// </summary>
public class EntrypointTests
{
    private static string BuildShowApp(LauncherSandbox s)
    {
        string tree = s["show-app"];
        Directory.CreateDirectory(Path.Combine(tree, "bin"));
        // Prints argv and the environment as bytes, sorted, one per line.
        TestXar.WriteExecutable(Path.Combine(tree, "bin", "show"), """
            #!/usr/bin/python3 -S
            import os, sys
            out = sys.stdout.buffer
            for a in sys.argv:
                out.write(b"arg " + os.fsencode(a) + b"\n")
            for k, v in sorted(os.environb.items()):
                out.write(b"env " + k + b"=" + v + b"\n")
            """);
        string xar = s["work/app.xar"];
        var r = TestEnv.Run(XarBinary.Path, "pack", tree, "-o", xar, "--exec", "bin/show", "--exec-arg", "fixed one", "--exec-arg", "", "--exec-arg", "$HOME'\"\\", "--quiet");
        r.EnsureSuccess("xar pack");
        return xar;
    }

    [SkippableTheory]
    [InlineData(true)]
    [InlineData(false)]
    public void TheEntrypointGetsWhatTheBootstrapWouldGiveItWithoutAShell(bool extract)
    {
        TestEnv.RequireTool("python3");
        TestEnv.RequireTool("strace");
        if (!extract)
        {
            TestEnv.RequireRoot();
            TestEnv.RequireFuse();
        }
        using var s = new LauncherSandbox();
        string xar = BuildShowApp(s);
        var env = s.Environment(extract);
        env["A-B"] = "dropped by the shell";
        env["PWD"] = s.Work + "/../work"; // names the current directory: the shell keeps it as given
        env["LAUNCHER"] = LauncherBinary.Path;
        string[] args = ["x", "y z", "", "\u00e9"];

        var direct = TestEnv.Run(new RunOptions("strace", ["-qq", "-e", "trace=execve", "-o", s["trace"], LauncherBinary.Path, "./app.xar", .. args])
        {
            Environment = env,
            WorkingDirectory = s.Work,
        });
        LaunchAssert.Succeeded(direct);
        var execs = File.ReadAllLines(s["trace"]).Where(l => l.Contains("execve(")).ToList();
        Assert.DoesNotContain(execs, l => l.Contains("\"/bin/sh\""));
        Assert.Contains(execs, l => l.Contains("/bin/show\", [\""));

        string mount = direct.StandardOutput.Split('\n').Single(l => l.StartsWith("env XAR_MOUNT=", StringComparison.Ordinal))["env XAR_MOUNT=".Length..];
        // What Facebook's launcher runs: the bootstrap through /bin/sh, with the same arguments and environment
        // (XARFUSE_NEW_MOUNT=1 from the run that mounted).
        env["XARFUSE_NEW_MOUNT"] = extract ? null : "1";
        var bootstrap = TestEnv.Run(new RunOptions("/bin/sh", ["-e", mount + "/xar_bootstrap.sh", "./app.xar", .. args])
        {
            Environment = env,
            WorkingDirectory = s.Work,
        });
        LaunchAssert.Succeeded(bootstrap);
        Assert.Equal(bootstrap.StandardOutput, direct.StandardOutput);
        Assert.StartsWith($"arg {mount}/bin/show\narg fixed one\narg \narg $HOME'\"\\\narg x\narg y z\narg \narg \u00e9\n", direct.StandardOutput);
        Assert.Contains($"env XAR_PATH={s.Work}/../work/app.xar\n", direct.StandardOutput);
        Assert.DoesNotContain("A-B", direct.StandardOutput);
    }

    [SkippableFact]
    public void AHeaderThatNamesNoEntrypointStillRunsItsTargetThroughTheShell()
    {
        TestEnv.RequireTool("mksquashfs");
        TestEnv.RequireTool("strace");
        using var s = new LauncherSandbox();
        string xar = TestXar.Build(s.AppTree, s["app.xar"]); // a bootstrap of its own, no XAR_EXEC
        var r = TestEnv.Run(new RunOptions("strace", ["-qq", "-e", "trace=execve", "-o", s["trace"], LauncherBinary.Path, xar])
        {
            Environment = s.Environment(extract: true),
            WorkingDirectory = s.Work,
        });
        LaunchAssert.Succeeded(r);
        Assert.Contains(File.ReadAllLines(s["trace"]), l => l.Contains("execve(\"/bin/sh\", [\"/bin/sh\", \"-e\""));
    }
}
