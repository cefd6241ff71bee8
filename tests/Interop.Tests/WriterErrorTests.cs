using Xar.Tests;

namespace Xar.Interop.Tests;

/// <summary>Trees that cannot be packed: one clear line naming the file, exit 1, no output.</summary>
[Collection("writer-interop")]
public class WriterErrorTests
{
    [SkippableFact]
    public void UnreadableFileFailsThePackNamingTheFile()
    {
        // root reads everything: run the packer as nobody over a file of mode 0000
        TestEnv.RequireRoot();
        TestEnv.RequireTool("setpriv");
        using var dir = new TempDir("writer-unreadable");
        string src = dir["src"];
        Directory.CreateDirectory(src);
        File.WriteAllText(Path.Combine(src, "fine"), "ok");
        string locked = Path.Combine(src, "locked");
        File.WriteAllText(locked, "secret");
        TestEnv.Run("chmod", "000", locked).EnsureSuccess("chmod");
        TestEnv.Run("chmod", "777", dir.Path).EnsureSuccess("chmod");
        string output = dir["out.xar"];
        // a copy of the program that nobody may read wherever the checkout lives
        string program = dir["program"];
        Directory.CreateDirectory(program);
        foreach (string name in new[] { "xar.dll", "xar.runtimeconfig.json", "xar.deps.json", "Xar.Posix.dll", "Xar.SquashFs.dll", "Xar.Runtime.dll", "System.CommandLine.dll" })
            File.Copy(Path.Combine(AppContext.BaseDirectory, name), Path.Combine(program, name));
        TestEnv.Run("chmod", "-R", "a+rX", program).EnsureSuccess("chmod");
        string[] xar = ["dotnet", Path.Combine(program, "xar.dll")];
        var r = TestEnv.Run(new RunOptions("setpriv", ["--reuid=65534", "--regid=65534", "--clear-groups", .. xar, "pack", src, "-o", output])
        {
            Environment = new Dictionary<string, string?> { ["HOME"] = dir.Path, ["DOTNET_CLI_HOME"] = dir.Path },
        });
        Assert.Equal(1, r.ExitCode);
        Assert.Equal($"xar: {locked}: cannot open: Permission denied\n", r.StandardError);
        Assert.False(File.Exists(output));
        Assert.Equal(["program", "src"], Directory.GetFileSystemEntries(dir.Path).Select(Path.GetFileName).Order());
    }
}
