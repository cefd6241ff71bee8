using Xar.Tests;

namespace Xar.Launcher.Tests;

/// <summary>
/// A XAR file whose name is not UTF-8 (<c>app\xff.xar</c>) is named by its bytes end to end: xarexec, `xar run`
/// and `xar info` find it on the first run, with no mount or cache entry there yet.
/// </summary>
public class FileNameBytesTests
{
    [SkippableFact]
    public void AXarWhoseNameIsNotUtf8RunsAndReadsOnTheFirstTry()
    {
        TestEnv.RequireTool("mksquashfs");
        using var s = new LauncherSandbox();
        TestXar.Build(s.AppTree, s["work/app.xar"]);
        var env = s.Environment(extract: true);
        env["LAUNCHER"] = LauncherBinary.Path;
        env["XAR"] = XarBinary.Path;
        string script = """
            set -e
            name=$(printf 'app\377.xar')
            cp app.xar "$name"
            "$LAUNCHER" "./$name" first
            echo "launcher: $?"
            "$XAR" run "./$name" second
            echo "run: $?"
            "$XAR" info "./$name" >info.txt
            echo "info: $?"
            """;
        var r = TestEnv.Run(new RunOptions("/bin/sh", ["-c", script]) { Environment = env, WorkingDirectory = s.Work });
        Assert.True(r.ExitCode == 0, r.StandardOutput + r.StandardError);
        Assert.Contains("[first]\n", r.StandardOutput);
        Assert.Contains("launcher: 0\n", r.StandardOutput);
        Assert.Contains("[second]\n", r.StandardOutput);
        Assert.Contains("run: 0\n", r.StandardOutput);
        Assert.EndsWith("info: 0\n", r.StandardOutput);
        Assert.Contains("XAREXEC_TARGET", File.ReadAllText(Path.Combine(s.Work, "info.txt")));
    }
}
