using Xar.Tests;

namespace Xar.Launcher.Tests;

/// <summary>
/// samples/dotnet-app packed by <c>xar dotnet</c> (published once for the class: dotnet publish is slow), run mounted,
/// extracted (XAR_EXTRACT=1) and as a self-contained executable: arguments, stdin, exit status, working directory,
/// and AppContext.BaseDirectory as the app's folder in the mount or the cache.
/// </summary>
public sealed class DotnetSampleTests(DotnetSampleTests.Packed packed) : IClassFixture<DotnetSampleTests.Packed>
{
    /// <summary>The sample packed plain (under umask 077) and --self-contained, once.</summary>
    public sealed class Packed : PackedSample
    {
        public Packed() : base("dotnet", "dotnet-app", 600_000, "dotnet", "mksquashfs")
        {
            if (!CanPack)
                return; // each test says what is missing
            Plain = PackUnderUmask("077", "greet.xar"); // what the tests check holds for a user whose files are private
            SelfContained = Pack("greet", "--self-contained", "--runtime", LauncherBinary.Path);
            SingleFile = Pack("greet-single.xar", "--", "-p:PublishSingleFile=true");
        }

        public string? Plain { get; }

        public string? SelfContained { get; }

        /// <summary>The single-file publish packed (README: the faster start from a mount).</summary>
        public string? SingleFile { get; }
    }

    private const string English = "Hello from .NET inside a XAR!", French = "Bonjour depuis .NET dans un XAR !";

    /// <summary>What samples/dotnet-app prints before any stdin: its greeting, its folder, the working directory, the arguments.</summary>
    private static string Greeting(string greeting, string root, string work, string[] arguments) =>
        $"{greeting}\nbase directory: {root}/\nworking directory: {work}\narguments:\n" + string.Concat(arguments.Select(a => $"  [{a}]\n"));

    [SkippableTheory]
    [InlineData(LaunchMode.Mount)]
    [InlineData(LaunchMode.ForcedExtract)]
    public void RunsWithArgumentsStdinStatusAndWorkingDirectory(LaunchMode mode)
    {
        packed.Require();
        LaunchModes.Require(mode);
        using var s = new LauncherSandbox();
        var r = s.Run(packed.Plain!, ["one arg", "--stdin", "--exit", "7"], LaunchModes.Environment(mode, s), "from stdin\n"u8.ToArray());
        Assert.True(r.ExitCode == 7, $"exit {r.ExitCode}\n{r.StandardOutput}\n{r.StandardError}");
        string root = LaunchModes.ExpectedRoot(mode, s, Xar.Runtime.XarHeader.ReadFromFile(packed.Plain!).Uuid);
        Assert.Equal(Greeting(English, root, s.Work, ["one arg", "--stdin", "--exit", "7"]) + "stdin: [from stdin\n]\n", r.StandardOutput);
    }

    [SkippableFact]
    public void SelfContainedExecutableRuns()
    {
        packed.Require();
        LaunchModes.Require(LaunchMode.Mount);
        using var s = new LauncherSandbox();
        var r = TestEnv.Run(new RunOptions(packed.SelfContained!, ["x y", "--lang", "fr", "--exit", "3"]) { Environment = s.Environment(), WorkingDirectory = s.Work });
        Assert.True(r.ExitCode == 3, $"exit {r.ExitCode}\n{r.StandardOutput}\n{r.StandardError}");
        string root = Assert.Single(s.Mounts());
        Assert.Equal(Greeting(French, root, s.Work, ["x y", "--lang", "fr", "--exit", "3"]), r.StandardOutput); // French: fr/greet.resources.dll in the mount
    }

    /// <summary>
    /// <c>xar dotnet ... -- -p:PublishSingleFile=true</c>, which README offers for the faster start from a mount: the
    /// image holds the one bundle (the satellite assembly inside it), and the app runs mounted and extracted alike.
    /// </summary>
    [SkippableTheory]
    [InlineData(LaunchMode.Mount)]
    [InlineData(LaunchMode.ForcedExtract)]
    public void ASingleFilePublishPackedRunsWithItsSatelliteAssembly(LaunchMode mode)
    {
        packed.Require();
        LaunchModes.Require(mode);
        var names = TestEnv.Run(XarBinary.Path, "ls", packed.SingleFile!).EnsureSuccess("xar ls").StandardOutput.Split('\n');
        Assert.Contains("squashfs-root/greet", names);
        Assert.DoesNotContain("squashfs-root/greet.dll", names);
        Assert.DoesNotContain("squashfs-root/fr/greet.resources.dll", names);
        using var s = new LauncherSandbox();
        var r = s.Run(packed.SingleFile!, ["--lang", "fr", "--exit", "4"], LaunchModes.Environment(mode, s));
        Assert.True(r.ExitCode == 4, $"exit {r.ExitCode}\n{r.StandardOutput}\n{r.StandardError}");
        string root = LaunchModes.ExpectedRoot(mode, s, Xar.Runtime.XarHeader.ReadFromFile(packed.SingleFile!).Uuid);
        Assert.Equal(Greeting(French, root, s.Work, ["--lang", "fr", "--exit", "4"]), r.StandardOutput);
    }

    /// <summary>
    /// The apphost named by the project's AssemblyName (greet, not the file name DotnetApp) is the entrypoint, and
    /// what it needs at run time is in the image: runtime config, deps, the satellite assembly, the host and runtime libraries.
    /// </summary>
    [SkippableFact]
    public void ImageHoldsThePublishWithTheApphostAsEntrypoint()
    {
        packed.Require();
        Assert.Equal("greet", Xar.Runtime.XarHeader.ReadFromFile(packed.Plain!)["XAR_EXEC"]);
        var names = TestEnv.Run(XarBinary.Path, "ls", packed.Plain!).EnsureSuccess("xar ls").StandardOutput.Split('\n');
        foreach (string file in (string[])["greet", "greet.dll", "greet.runtimeconfig.json", "greet.deps.json", "fr/greet.resources.dll", "libhostfxr.so", "libcoreclr.so", "libclrjit.so", "System.Private.CoreLib.dll"])
            Assert.Contains("squashfs-root/" + file, names);
        // The publish folder is the image root: 0755 and everything in it a+rX though packed under umask 077, so the mount lets every user in.
        var lines = TestEnv.Run(XarBinary.Path, "ls", "-l", packed.Plain!).EnsureSuccess("xar ls -l").StandardOutput.Split('\n');
        Assert.StartsWith("drwxr-xr-x ", lines[0]);
        Assert.Contains(lines, l => l.StartsWith("-rwxr-xr-x ", StringComparison.Ordinal) && l.EndsWith(" squashfs-root/greet", StringComparison.Ordinal));
        Assert.Contains(lines, l => l.StartsWith("-rw-r--r-- ", StringComparison.Ordinal) && l.EndsWith(" squashfs-root/greet.dll", StringComparison.Ordinal));
        Assert.Empty(ImageModes.NotOpenToEveryUser(packed.Plain!));
    }
}
