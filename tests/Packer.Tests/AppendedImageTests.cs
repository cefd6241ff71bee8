using Xar.Tests;

namespace Xar.Packer.Tests;

/// <summary>
/// Images after an ELF executable: type-2 AppImages (a bare SquashFS image at the ELF end exactly) and
/// self-contained executables (a XAR at the ELF end rounded up to 4096), read by info, ls, cat, extract and verify.
/// </summary>
public class AppendedImageTests
{
    [SkippableFact]
    public void AnAppImageShapedFileIsListedExtractedAndVerified()
    {
        using var tmp = new TempDir("appimage");
        var (tree, image) = XarCli.Make(tmp, "-comp", "zstd");
        byte[] runtime = File.ReadAllBytes(LauncherBinary.Path);
        Assert.NotEqual(0, runtime.Length % 4096); // so "at the ELF end exactly" differs from "rounded up"
        string appImage = tmp["app.AppImage"];
        File.WriteAllBytes(appImage, [.. runtime, .. File.ReadAllBytes(image)]);

        var info = XarCli.Run("info", appImage, "--json").EnsureSuccess("info");
        Assert.Contains("\"format\": \"elf-squashfs\"", info.StandardOutput);
        Assert.Contains($"\"image_offset\": {runtime.Length}", info.StandardOutput);
        Assert.Equal(XarCli.Run("ls", image).EnsureSuccess("ls image").StandardOutput.Replace(image, appImage),
            XarCli.Run("ls", appImage).EnsureSuccess("ls").StandardOutput);
        Assert.Equal("hello, world\n", XarCli.Run("cat", appImage, "hello.txt").EnsureSuccess("cat").StandardOutput);
        Assert.Contains(": OK:", XarCli.Run("verify", appImage).EnsureSuccess("verify").StandardOutput);
        string output = tmp["out"];
        XarCli.Run("extract", appImage, "-o", output, "-q").EnsureSuccess("extract");
        TestEnv.AssertTreesEqual(tree, output);
    }

    [SkippableFact]
    public void ASelfContainedFileIsReadThroughItsXar()
    {
        using var tmp = new TempDir("selfcontained-read");
        var (tree, _) = XarCli.Make(tmp);
        string app = tmp["app"];
        XarCli.Run("pack", tree, "-o", app, "--self-contained", "--runtime", LauncherBinary.Path, "-q").EnsureSuccess("pack");
        long start = (new FileInfo(LauncherBinary.Path).Length + 4095) / 4096 * 4096;

        var info = XarCli.Run("info", app, "--json").EnsureSuccess("info");
        Assert.Contains("\"format\": \"self-contained-xar\"", info.StandardOutput);
        Assert.Contains($"\"archive_offset\": {start}", info.StandardOutput);
        Assert.Contains($"\"image_offset\": {start + 4096}", info.StandardOutput);
        Assert.Contains("UUID matches the image hash", XarCli.Run("verify", app).EnsureSuccess("verify").StandardOutput);
        Assert.Equal("hello, world\n", XarCli.Run("cat", app, "hello.txt").EnsureSuccess("cat").StandardOutput);
        string output = tmp["out"];
        XarCli.Run("extract", app, "-o", output, "-q").EnsureSuccess("extract");
        TestEnv.AssertTreesEqual(tree, output);
    }

    [SkippableFact]
    public void AnExecutableWithNothingAppendedIsBadInput()
    {
        XarCli.AssertBadInput(XarCli.Run("ls", LauncherBinary.Path), "nothing appended");
    }
}
