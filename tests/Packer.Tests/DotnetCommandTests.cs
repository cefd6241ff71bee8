using Xar.Tests;

namespace Xar.Packer.Tests;

/// <summary>
/// `xar dotnet` on bad input: no project, two projects, not a project, a RID that is not Linux, arguments for dotnet
/// publish without "--", a project that does not build (one line: the first compiler error), and an interrupted
/// publish. An existing OUT is never touched and the staging folder (in $TMPDIR) is always removed.
/// (samples/dotnet-app packed and run: Launcher.Tests' DotnetSampleTests.)
/// </summary>
public sealed class DotnetCommandTests
{
    private const string ConsoleProject = """
        <Project Sdk="Microsoft.NET.Sdk">
          <PropertyGroup>
            <OutputType>Exe</OutputType>
            <TargetFramework>net10.0</TargetFramework>
          </PropertyGroup>
        </Project>
        """;

    /// <summary>xar with its own $TMPDIR, so the test sees whatever staging folder it would leave.</summary>
    private static ProcessResult RunXar(TempDir tmp, params string[] args)
    {
        Directory.CreateDirectory(tmp["tmp"]);
        return TestEnv.Run(new RunOptions(XarBinary.Path, args) { Environment = new Dictionary<string, string?> { ["TMPDIR"] = tmp["tmp"] }, TimeoutMs = 600_000 });
    }

    /// <summary>No staging folder of xar's (dotnet's own temporary files, which it keeps there too, are its business).</summary>
    private static void AssertNothingLeft(TempDir tmp) => Assert.Empty(Directory.EnumerateFileSystemEntries(tmp["tmp"], "xar-*"));

    [Fact]
    public void FolderWithoutProjectIsBadInput()
    {
        using var tmp = new TempDir();
        Directory.CreateDirectory(tmp["empty"]);
        XarCli.AssertBadInput(RunXar(tmp, "dotnet", tmp["empty"], "-o", tmp["a.xar"]), $"xar: {tmp["empty"]}: no .csproj or .fsproj in this folder");
        XarCli.AssertBadInput(RunXar(tmp, "dotnet", tmp["missing"], "-o", tmp["a.xar"]), "no such project file or folder");
        File.WriteAllText(tmp["notes.txt"], "x");
        XarCli.AssertBadInput(RunXar(tmp, "dotnet", tmp["notes.txt"], "-o", tmp["a.xar"]), "is not a project file");
        Assert.False(File.Exists(tmp["a.xar"]));
        AssertNothingLeft(tmp);
    }

    [Fact]
    public void FolderWithTwoProjectsIsBadInput()
    {
        using var tmp = new TempDir();
        Directory.CreateDirectory(tmp["two"]);
        File.WriteAllText(tmp["two/b.fsproj"], ConsoleProject);
        File.WriteAllText(tmp["two/a.csproj"], ConsoleProject);
        XarCli.AssertBadInput(RunXar(tmp, "dotnet", tmp["two"], "-o", tmp["a.xar"]), "holds 2 projects (a.csproj, b.fsproj): name the one to pack");
        AssertNothingLeft(tmp);
    }

    /// <summary>OUT naming a file of the project's folder (Program.cs) is refused before dotnet publish runs, the file left as it was.</summary>
    [Fact]
    public void OutputThatNamesAProjectFileIsRefused()
    {
        using var tmp = new TempDir();
        Directory.CreateDirectory(tmp["app"]);
        File.WriteAllText(tmp["app/app.csproj"], ConsoleProject);
        File.WriteAllText(tmp["app/Program.cs"], "System.Console.WriteLine(1);\n");
        XarCli.AssertBadInput(RunXar(tmp, "dotnet", tmp["app"], "-o", tmp["app/Program.cs"]),
            $"xar: {tmp["app/Program.cs"]}: exists inside the project's folder: packing would replace a file it packs (write OUT outside the project's folder, or remove it first)");
        Assert.Equal("System.Console.WriteLine(1);\n", File.ReadAllText(tmp["app/Program.cs"]));
        AssertNothingLeft(tmp);
    }

    [Theory]
    [InlineData("win-x64")]
    [InlineData("osx-arm64")]
    [InlineData("linux-")]
    public void NonLinuxRidIsBadInput(string rid)
    {
        using var tmp = new TempDir();
        Directory.CreateDirectory(tmp["app"]);
        File.WriteAllText(tmp["app/app.csproj"], ConsoleProject);
        XarCli.AssertBadInput(RunXar(tmp, "dotnet", tmp["app"], "-o", tmp["a.xar"], "-r", rid), $"--rid {rid}: a XAR runs on Linux");
        AssertNothingLeft(tmp);
    }

    [Fact]
    public void PublishArgumentsNeedTheDoubleDash()
    {
        using var tmp = new TempDir();
        Directory.CreateDirectory(tmp["app"]);
        File.WriteAllText(tmp["app/app.csproj"], ConsoleProject);
        XarCli.AssertBadInput(RunXar(tmp, "dotnet", tmp["app"], "-p:PublishTrimmed=true", "-o", tmp["a.xar"]), "arguments for dotnet publish go after --");
    }

    [Fact]
    public void PackOptionsAreCheckedBeforePublishing()
    {
        using var tmp = new TempDir();
        Directory.CreateDirectory(tmp["app"]);
        File.WriteAllText(tmp["app/app.csproj"], ConsoleProject);
        XarCli.AssertBadInput(RunXar(tmp, "dotnet", tmp["app"], "-o", tmp["a.xar"], "--block-size", "3K"), "--block-size 3K must be a power of two");
        XarCli.AssertBadInput(RunXar(tmp, "dotnet", tmp["app"], "-o", tmp["a.xar"], "--runtime", "/bin/true"), "--runtime needs --self-contained");
        XarCli.AssertBadInput(RunXar(tmp, "dotnet", tmp["app"], "-o", tmp["no/such/dir/a.xar"]), "no such directory");
        AssertNothingLeft(tmp);
    }

    /// <summary>The first compiler error on one line, exit 1; OUT as it was; the project's folder gets no bin/ or obj/.</summary>
    [SkippableFact]
    public void ProjectThatDoesNotBuildFailsWithItsFirstError()
    {
        TestEnv.RequireTool("dotnet");
        using var tmp = new TempDir();
        Directory.CreateDirectory(tmp["bad"]);
        File.WriteAllText(tmp["bad/bad.csproj"], ConsoleProject);
        File.WriteAllText(tmp["bad/Program.cs"], "System.Console.WriteLine(\"x\")\nint y = ;\n");
        File.WriteAllText(tmp["a.xar"], "old");
        var r = RunXar(tmp, "dotnet", tmp["bad"], "-o", tmp["a.xar"], "--quiet");
        Assert.True(r.ExitCode == 1, $"exit {r.ExitCode}: {r.StandardError}");
        Assert.Equal($"xar: {tmp["bad"]}: dotnet publish failed: Program.cs(1,30): error CS1002: ; expected\n", r.StandardError);
        Assert.Equal("old", File.ReadAllText(tmp["a.xar"]));
        Assert.Equal(["Program.cs", "bad.csproj"], Directory.EnumerateFileSystemEntries(tmp["bad"]).Select(Path.GetFileName).Order(StringComparer.Ordinal));
        AssertNothingLeft(tmp);
    }

    /// <summary>
    /// An --exclude that leaves out what the published app needs to start (its main assembly, runtimeconfig.json,
    /// deps.json, the runtime's libcoreclr.so) is refused once the publish has named them: exit 2 in the words of the
    /// other front-ends, OUT as it was, nothing left.
    /// </summary>
    [SkippableFact]
    public void ExcludingWhatTheAppNeedsToStartIsRefused()
    {
        TestEnv.RequireTool("dotnet");
        using var tmp = new TempDir();
        Directory.CreateDirectory(tmp["app"]);
        File.WriteAllText(tmp["app/app.csproj"], ConsoleProject.Replace("</OutputType>", "</OutputType><AssemblyName>hello</AssemblyName>"));
        File.WriteAllText(tmp["app/Program.cs"], "System.Console.WriteLine(1);\n");
        File.WriteAllText(tmp["a.xar"], "old");
        foreach (var (pattern, message) in new[]
        {
            ("*.dll", "xar: --exclude *.dll: leaves out hello.dll, which the app needs to start\n"),
            ("*.json", "xar: --exclude *.json: leaves out hello.runtimeconfig.json, which the app needs to start\n"),
            ("libcoreclr.so", "xar: --exclude libcoreclr.so: leaves out libcoreclr.so, which the app needs to start\n"),
        })
        {
            var r = RunXar(tmp, "dotnet", tmp["app"], "-o", tmp["a.xar"], "--quiet", "--exclude", "*.pdb", "--exclude", pattern);
            Assert.True(r.ExitCode == 2, $"--exclude {pattern}: exit {r.ExitCode}: {r.StandardError}");
            Assert.Equal(message, r.StandardError);
            Assert.Equal("old", File.ReadAllText(tmp["a.xar"]));
            AssertNothingLeft(tmp);
        }
    }

    /// <summary>
    /// A publish set to link its files where they came from is published with plain copies all the same. Symbolic links
    /// (CreateSymbolicLinksForPublishFilesIfPossible, here in the project's Directory.Build.props) would pack links into
    /// this machine's NuGet cache: a XAR that runs here and nowhere else. Hard links (CreateHardLinksForPublishFilesIfPossible,
    /// here after --) would share the project's own files with the staging folder, whose a+rX would then widen their
    /// modes: the project's 0600 file stays 0600, and the image has its copy readable by all.
    /// </summary>
    [SkippableFact]
    public void PublishedFilesArePackedAsCopiesNeverAsLinks()
    {
        TestEnv.RequireTool("dotnet");
        using var tmp = new TempDir();
        Directory.CreateDirectory(tmp["app"]);
        File.WriteAllText(tmp["app/app.csproj"], ConsoleProject.Replace("</OutputType>", "</OutputType><AssemblyName>hello</AssemblyName>")
            .Replace("</Project>", """
              <ItemGroup><None Include="private.txt" CopyToPublishDirectory="Always" /></ItemGroup>
            </Project>
            """));
        File.WriteAllText(tmp["app/Program.cs"], "System.Console.WriteLine(1);\n");
        File.WriteAllText(tmp["app/private.txt"], "data\n");
        File.SetUnixFileMode(tmp["app/private.txt"], UnixFileMode.UserRead | UnixFileMode.UserWrite);
        File.WriteAllText(tmp["app/Directory.Build.props"], """
            <Project>
              <PropertyGroup><CreateSymbolicLinksForPublishFilesIfPossible>true</CreateSymbolicLinksForPublishFilesIfPossible></PropertyGroup>
            </Project>
            """);

        var r = RunXar(tmp, "dotnet", tmp["app"], "-o", tmp["a.xar"], "--quiet");
        Assert.True(r.ExitCode == 0, $"exit {r.ExitCode}: {r.StandardError}");
        string listing = TestEnv.Run(XarBinary.Path, "ls", "-l", tmp["a.xar"]).EnsureSuccess("xar ls").StandardOutput;
        Assert.Contains(" squashfs-root/libcoreclr.so\n", listing);
        Assert.DoesNotContain(listing.Split('\n'), line => line.StartsWith('l'));

        File.Delete(tmp["app/Directory.Build.props"]);
        r = RunXar(tmp, "dotnet", tmp["app"], "-o", tmp["b.xar"], "--quiet", "--", "-p:CreateHardLinksForPublishFilesIfPossible=true");
        Assert.True(r.ExitCode == 0, $"exit {r.ExitCode}: {r.StandardError}");
        Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite, File.GetUnixFileMode(tmp["app/private.txt"]));
        listing = TestEnv.Run(XarBinary.Path, "ls", "-l", tmp["b.xar"]).EnsureSuccess("xar ls").StandardOutput;
        Assert.Contains(listing.Split('\n'), line => line.StartsWith("-rw-r--r-- ") && line.EndsWith(" squashfs-root/private.txt"));
        AssertNothingLeft(tmp);
    }

    /// <summary>
    /// SIGTERM during dotnet publish (a build step that sleeps): exit 1 "interrupted", the build's processes stopped
    /// (the sleep too), the staging folder removed, no OUT.
    /// </summary>
    [SkippableFact]
    public void InterruptedPublishLeavesNothing()
    {
        TestEnv.RequireTool("dotnet");
        TestEnv.RequireTool("pgrep");
        using var tmp = new TempDir();
        Directory.CreateDirectory(tmp["tmp"]);
        Directory.CreateDirectory(tmp["slow"]);
        string marker = $"{Environment.ProcessId % 1000 + 100}.{Random.Shared.Next(100, 999)}";
        File.WriteAllText(tmp["slow/slow.csproj"], ConsoleProject.Replace("</Project>", $"""
              <Target Name="Slow" BeforeTargets="CoreCompile"><Exec Command="sleep {marker}" /></Target>
            </Project>
            """));
        File.WriteAllText(tmp["slow/Program.cs"], "System.Console.WriteLine(1);\n");
        // xar in the background; SIGTERM once the build step sleeps (at most 2 minutes later).
        string script = """
            "$XAR" dotnet "$PROJECT" -o "$OUT" --quiet 2>"$ERR" &
            pid=$!
            tries=0
            until pgrep -f "sleep $MARKER" >/dev/null; do
                tries=$((tries + 1)); [ $tries -lt 1200 ] || { echo "never slept"; exit 1; }
                kill -0 $pid 2>/dev/null || { echo "ended before the signal"; exit 1; }
                sleep 0.1
            done
            kill -TERM $pid
            wait $pid
            echo "status $?"
            """;
        var r = TestEnv.Run(new RunOptions("/bin/sh", ["-c", script])
        {
            Environment = new Dictionary<string, string?>
            {
                ["XAR"] = XarBinary.Path, ["PROJECT"] = tmp["slow"], ["OUT"] = tmp["a.xar"], ["ERR"] = tmp["err"], ["MARKER"] = marker, ["TMPDIR"] = tmp["tmp"],
            },
        });
        Assert.Equal("status 1\n", r.StandardOutput);
        Assert.Equal("xar: interrupted\n", File.ReadAllText(tmp["err"]));
        Assert.False(File.Exists(tmp["a.xar"]));
        AssertNothingLeft(tmp);
        Assert.NotEqual(0, TestEnv.Run("pgrep", "-f", "sleep " + marker).ExitCode);
    }
}
