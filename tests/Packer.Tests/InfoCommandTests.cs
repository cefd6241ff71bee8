using System.Text.Json;
using Xar.Runtime;
using Xar.Tests;

namespace Xar.Packer.Tests;

public class InfoCommandTests
{
    [SkippableFact]
    public void ShowsSuperblockAndHeader()
    {
        using var tmp = new TempDir("info");
        var (_, image) = XarCli.Make(tmp, "-comp", "zstd", "-Xcompression-level", "5", "-b", "64K");
        var r = XarCli.Run("info", image).EnsureSuccess("xar info");
        Assert.Contains("compression: zstd", r.StandardOutput);
        Assert.Contains("compression_level: 5", r.StandardOutput);
        Assert.Contains("block_size: 65536", r.StandardOutput);

        string xar = tmp["app.xar"];
        File.WriteAllBytes(xar, [.. new XarHeader("00112233aabbccdd", "1700000000", "boot.sh").ToBytes(), .. File.ReadAllBytes(image)]);
        var j = XarCli.Run("info", "--json", xar).EnsureSuccess("xar info --json");
        using var doc = JsonDocument.Parse(j.StandardOutput);
        Assert.Equal("xar", doc.RootElement.GetProperty("format").GetString());
        Assert.Equal("00112233aabbccdd", doc.RootElement.GetProperty("xar").GetProperty("UUID").GetString());
        Assert.Equal(4096, doc.RootElement.GetProperty("image_offset").GetInt64());
        Assert.Equal(65536, doc.RootElement.GetProperty("block_size").GetInt64());

        var o = XarCli.Run("info", "--offset", "4096", xar).EnsureSuccess("xar info --offset");
        Assert.Contains("format: squashfs", o.StandardOutput);
    }

    [SkippableFact]
    public void BadInputExitsTwo()
    {
        using var tmp = new TempDir("info-bad");
        File.WriteAllText(tmp["not-an-image"], "just text, long enough to hold a superblock? no, but it is not hsqs anyway............................................");
        XarCli.AssertBadInput(XarCli.Run("info", tmp["not-an-image"]), "not a SquashFS image");
        XarCli.AssertBadInput(XarCli.Run("info", tmp["missing"]));
        XarCli.AssertBadInput(XarCli.Run("info", tmp.Path));
        XarCli.AssertBadInput(XarCli.Run("info", "--offset", "-5", tmp["not-an-image"]));
    }

    [SkippableFact]
    public void ShowsTheEntrypointAndItsFixedArguments()
    {
        using var tmp = new TempDir("info-exec");
        var (_, image) = XarCli.Make(tmp);
        string xar = tmp["app.xar"];
        var header = new XarHeader("00112233aabbccdd", "1700000000", "xar_bootstrap.sh",
            [new("XAR_EXEC", "bin/app"), new("XAR_EXEC_ARGS", "--flag a%20b '' it%27s %FF")]);
        File.WriteAllBytes(xar, [.. header.ToBytes(), .. File.ReadAllBytes(image)]);

        var text = XarCli.Run("info", xar).EnsureSuccess("xar info").StandardOutput;
        Assert.Contains("\n  entrypoint: bin/app\n", text);
        Assert.Contains("\n  fixed_arguments: --flag 'a b' '' 'it'\\''s' $'\\xff'\n", text);

        var json = XarCli.Run("info", "--json", xar).EnsureSuccess("xar info --json").StandardOutput;
        using (var doc = JsonDocument.Parse(json))
        {
            Assert.Equal("bin/app", doc.RootElement.GetProperty("entrypoint").GetString());
            Assert.Equal(["--flag", "a b", "", "it's", "\uFFFD"], doc.RootElement.GetProperty("fixed_arguments").EnumerateArray().Select(e => e.GetString()));
        }

        // Before XAR_EXEC (or from Facebook's tools): the target the launcher runs; none for a bare image.
        File.WriteAllBytes(xar, [.. new XarHeader("00112233aabbccdd", "1", "run.sh").ToBytes(), .. File.ReadAllBytes(image)]);
        text = XarCli.Run("info", xar).EnsureSuccess("xar info, old header").StandardOutput;
        Assert.Contains("\n  entrypoint: run.sh (XAREXEC_TARGET, run by /bin/sh)\n", text);
        using (var doc = JsonDocument.Parse(XarCli.Run("info", "--json", image).EnsureSuccess("xar info --json, bare").StandardOutput))
            Assert.Equal(JsonValueKind.Null, doc.RootElement.GetProperty("entrypoint").ValueKind);

        // A malformed XAR_EXEC_ARGS is shown as it is, not fatal: info is how one looks at a broken file.
        File.WriteAllBytes(xar, [.. new XarHeader("00112233aabbccdd", "1", "run.sh", [new("XAR_EXEC", "bin/app"), new("XAR_EXEC_ARGS", "a  b")]).ToBytes(), .. File.ReadAllBytes(image)]);
        text = XarCli.Run("info", xar).EnsureSuccess("xar info, malformed XAR_EXEC_ARGS").StandardOutput;
        Assert.Contains("fixed_arguments: malformed XAR_EXEC_ARGS", text);
    }
}
