using System.Runtime.Versioning;
using System.Text;
using Xar.SquashFs;
using Xar.SquashFs.Writing;
using Xar.Tests;

namespace Xar.Runtime.Tests;

/// <summary>XarFile.CreateFromDirectory: the entrypoint, its fixed arguments, the bootstrap and the header fields.</summary>
[SupportedOSPlatform("linux")]
public sealed class XarFileTests : IDisposable
{
    private readonly TempDir _tmp = new("xar-file");

    public void Dispose() => _tmp.Dispose();

    /// <summary>An app that prints each argument as hex on its own line (so any byte shows), then XAR_MOUNT.</summary>
    private string Tree(string appName = "app")
    {
        string source = _tmp["src"];
        Directory.CreateDirectory(Path.Combine(source, "bin"));
        string app = Path.Combine(source, "bin", appName);
        File.WriteAllText(app, "#!/bin/sh\nfor a in \"$@\"; do printf '%s' \"$a\" | od -An -tx1 | tr -d ' \\n'; echo .; done\necho \"mount=$XAR_MOUNT\"\n");
        File.SetUnixFileMode(app, (UnixFileMode)0x1ED);
        return source;
    }

    private static string Hex(byte[] bytes) => Convert.ToHexStringLower(bytes) + ".";

    /// <summary>Runs the archive's bootstrap as a launcher would, with the source tree standing in for the mount.</summary>
    private ProcessResult RunBootstrap(string xar, string source, params string[] callerArguments)
    {
        using var archive = XarArchive.Open(xar);
        var entry = archive.Image.GetEntry(archive.Header!.ExecTarget!)!;
        string script = Path.Combine(source, archive.Header.ExecTarget!);
        using (var data = archive.Image.OpenRead(entry))
        using (var file = File.Create(script))
            data.CopyTo(file);
        return TestEnv.Run("/bin/sh", ["-e", script, xar, .. callerArguments]).EnsureSuccess("bootstrap");
    }

    private static readonly byte[][] HostileArguments =
    [
        "--flag"u8.ToArray(), "a b"u8.ToArray(), [], "it's"u8.ToArray(), "$HOME `id` $(id) \\ \"q\""u8.ToArray(),
        [0xFF, 0xFE, (byte)'\n', (byte)'x', 0x01], "*"u8.ToArray(),
    ];

    [Fact]
    public void HeaderNamesTheEntrypointAndItsFixedArguments()
    {
        string source = Tree();
        string xar = _tmp["app.xar"];
        var written = XarFile.CreateFromDirectory(source, xar, new XarWriterOptions { ExecPath = "./bin/app", ExecArguments = HostileArguments });
        var read = XarHeader.ReadFromFile(xar);
        foreach (var header in new[] { written, read })
        {
            Assert.Equal(XarFile.BootstrapName, header.ExecTarget);
            Assert.Equal("bin/app", header.Exec);
            Assert.Equal(HostileArguments, header.ExecArgs);
        }
        Assert.Equal(XarExecArguments.Encode(HostileArguments), read[XarHeader.ExecArgsName]);

        // Without fixed arguments: XAR_EXEC only.
        var plain = XarFile.CreateFromDirectory(source, _tmp["plain.xar"], new XarWriterOptions { ExecPath = "bin/app" });
        Assert.Equal("bin/app", plain.Exec);
        Assert.Null(plain.ExecArgs);
        Assert.Null(XarHeader.ReadFromFile(_tmp["plain.xar"])[XarHeader.ExecArgsName]);
    }

    [Fact]
    public void BootstrapPassesFixedArgumentsOfAnyBytesBeforeTheCallers()
    {
        string source = Tree();
        string xar = _tmp["app.xar"];
        XarFile.CreateFromDirectory(source, xar, new XarWriterOptions { ExecPath = "bin/app", ExecArguments = HostileArguments });
        var r = RunBootstrap(xar, source, "caller", "");
        string expected = string.Concat(HostileArguments.Select(a => Hex(a) + "\n")) + Hex("caller"u8.ToArray()) + "\n" + Hex([]) + "\n" + $"mount={source}\n";
        Assert.Equal(expected, r.StandardOutput);
    }

    [Fact]
    public void AnEntrypointPathAShellWouldExpandIsLeftOutOfTheHeaderAndStillRuns()
    {
        string source = Tree("a$HOME`b`");
        string xar = _tmp["app.xar"];
        var header = XarFile.CreateFromDirectory(source, xar, new XarWriterOptions { ExecPath = "bin/a$HOME`b`", ExecArguments = ["x"u8.ToArray()] });
        Assert.Null(header.Exec);
        Assert.Null(header.ExecArgs);
        Assert.Equal(XarFile.BootstrapName, header.ExecTarget);
        Assert.Equal($"{Hex("x"u8.ToArray())}\nmount={source}\n", RunBootstrap(xar, source).StandardOutput);
    }

    [Fact]
    public void ArgumentsTooLongForTheHeaderAreRefusedBeforeAnythingIsWritten()
    {
        string source = Tree();
        string xar = _tmp["app.xar"];
        var options = new XarWriterOptions { ExecPath = "bin/app", ExecArguments = [Encoding.ASCII.GetBytes(new string('x', 4000)), "a b"u8.ToArray()] };
        var error = Assert.Throws<ArgumentException>(() => XarFile.CreateFromDirectory(source, xar, options));
        Assert.Contains("4096", error.Message);
        Assert.Contains(XarHeader.ExecArgsName, error.Message);
        Assert.Equal(["src"], Directory.GetFileSystemEntries(_tmp.Path).Select(Path.GetFileName));
    }

    [Fact]
    public void FixedArgumentsNeedAnEntrypointAndNoNul()
    {
        string source = Tree();
        Assert.Throws<ArgumentException>(() => XarFile.CreateFromDirectory(source, _tmp["a.xar"], new XarWriterOptions { ExecArguments = ["x"u8.ToArray()] }));
        Assert.Throws<ArgumentException>(() => XarFile.CreateFromDirectory(source, _tmp["a.xar"],
            new XarWriterOptions { ExecPath = "bin/app", ExecArguments = [[(byte)'a', 0]] }));
        Assert.False(File.Exists(_tmp["a.xar"]));
    }

    [Fact]
    public void SourceThatIsAFileIsCalledAFile()
    {
        string source = Tree();
        var error = Assert.Throws<SourceTreeException>(() => XarFile.CreateFromDirectory(Path.Combine(source, "bin", "app"), _tmp["a.xar"]));
        Assert.Contains("not a directory", error.Message);
        Assert.DoesNotContain("no such", error.Message);
    }

    [Fact]
    public void ExecThatIsADirectoryIsCalledADirectory()
    {
        string source = Tree();
        var error = Assert.Throws<SourceTreeException>(() => XarFile.CreateFromDirectory(source, _tmp["a.xar"], new XarWriterOptions { ExecPath = "bin" }));
        Assert.Contains("is a directory", error.Message);
        Assert.DoesNotContain("no such", error.Message);
    }
}
