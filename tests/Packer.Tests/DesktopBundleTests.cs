using System.Buffers.Binary;
using System.Runtime.Versioning;
using Xar.Runtime;
using Xar.Tests;

namespace Xar.Packer.Tests;

/// <summary>
/// `xar pack` of a desktop bundle: the desktop file, icon and AppRun at SOURCE_DIR's root or given with
/// --desktop-file/--icon, AppRun as the default entrypoint, and desktop files desktop-file-validate rejects refused.
/// </summary>
[SupportedOSPlatform("linux")]
public class DesktopBundleTests
{
    internal static string Sample => Path.Combine(TestEnv.RepoRoot, "samples", "desktop");

    internal const string SampleId = "org.example.HelloDesktop";

    /// <summary>The bytes of a PNG's signature and IHDR chunk for a <paramref name="size"/>-pixel square image (all xar reads of it).</summary>
    internal static byte[] Png(int size)
    {
        var bytes = new byte[33];
        new byte[] { 0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A }.CopyTo(bytes, 0);
        BinaryPrimitives.WriteUInt32BigEndian(bytes.AsSpan(8), 13);
        "IHDR"u8.CopyTo(bytes.AsSpan(12));
        BinaryPrimitives.WriteUInt32BigEndian(bytes.AsSpan(16), (uint)size);
        BinaryPrimitives.WriteUInt32BigEndian(bytes.AsSpan(20), (uint)size);
        bytes[24] = 8; // bit depth
        bytes[25] = 6; // RGBA
        return bytes;
    }

    private static ProcessResult Pack(IReadOnlyDictionary<string, string?>? environment, params string[] args) =>
        TestEnv.Run(new RunOptions(XarBinary.Path, ["pack", .. args]) { Environment = environment });

    private static string Ls(string file) => XarCli.Run("ls", file).EnsureSuccess("xar ls").StandardOutput;

    /// <summary>A bundle tree: AppRun printing its arguments, and the desktop file <paramref name="desktop"/> (null: none).</summary>
    private static string Tree(TempDir dir, string? desktop, string name = "org.example.Test.desktop")
    {
        string tree = dir["tree"];
        Directory.CreateDirectory(tree);
        File.WriteAllText(Path.Combine(tree, "AppRun"), "#!/bin/sh\necho \"AppRun ran: $*\"\n");
        File.SetUnixFileMode(Path.Combine(tree, "AppRun"), (UnixFileMode)0x1ED);
        if (desktop is not null)
            File.WriteAllText(Path.Combine(tree, name), desktop);
        return tree;
    }

    private const string ValidEntry = "[Desktop Entry]\nType=Application\nName=Test\nExec=AppRun %U\nIcon=org.example.Test\n";

    [SkippableFact]
    public void SampleDesktopFilePassesDesktopFileValidate()
    {
        TestEnv.RequireTool("desktop-file-validate");
        var r = TestEnv.Run(TestEnv.FindTool("desktop-file-validate")!, Path.Combine(Sample, SampleId + ".desktop"));
        Assert.True(r.ExitCode == 0, r.StandardOutput + r.StandardError);
        Assert.Equal("", r.StandardOutput + r.StandardError);
    }

    [SkippableFact]
    public void AppRunIsTheEntrypointWithoutExec()
    {
        TestEnv.RequireTool("desktop-file-validate");
        using var dir = new TempDir("desktop");
        string app = dir["hello-desktop"];
        var packed = Pack(null, Sample, "-o", app);
        Assert.True(packed.ExitCode == 0, packed.StandardError);
        Assert.DoesNotContain("no --exec", packed.StandardError);
        Assert.DoesNotContain("warning", packed.StandardError);
        Assert.Equal("AppRun", XarHeader.ReadFromFile(app).Exec);
        // The bundle runs AppRun (extracted, so no mount outlives the test).
        var ran = TestEnv.Run(new RunOptions(LauncherBinary.Path, [app, "one", "two"])
        {
            Environment = new Dictionary<string, string?> { ["XAR_EXTRACT"] = "1", ["XAR_CACHE_DIR"] = dir["cache"], ["HOME"] = dir["home"], ["XDG_STATE_HOME"] = null },
        }).EnsureSuccess("run the bundle");
        Assert.Equal("Hello from a desktop bundle\n", ran.StandardOutput);
        Assert.Contains($"started from {app} ", File.ReadAllText(dir["home/.local/state/hello-desktop.log"]));
        Assert.Contains("with 2 argument(s): [one] [two]", File.ReadAllText(dir["home/.local/state/hello-desktop.log"]));
    }

    [SkippableFact]
    public void ExecWinsOverAppRun()
    {
        TestEnv.RequireTool("desktop-file-validate");
        using var dir = new TempDir("desktop");
        string tree = Tree(dir, ValidEntry);
        File.WriteAllText(Path.Combine(tree, "other"), "#!/bin/sh\necho other\n");
        File.SetUnixFileMode(Path.Combine(tree, "other"), (UnixFileMode)0x1ED);
        Pack(null, tree, "-o", dir["a.xar"], "--exec", "other", "-q").EnsureSuccess("pack");
        Assert.Equal("other", XarHeader.ReadFromFile(dir["a.xar"]).Exec);
        // AppRun is then just a file: not executable, it is packed as it is.
        File.SetUnixFileMode(Path.Combine(tree, "AppRun"), (UnixFileMode)0x1A4);
        Pack(null, tree, "-o", dir["b.xar"], "--exec", "other", "-q").EnsureSuccess("pack with a non-executable AppRun");
    }

    [SkippableFact]
    public void DesktopFileTheValidatorRejectsIsRefusedWithItsReason()
    {
        TestEnv.RequireTool("desktop-file-validate");
        using var dir = new TempDir("desktop");
        string tree = Tree(dir, "[Desktop Entry]\nType=Application\nExec=AppRun\n");
        var r = Pack(null, tree, "-o", dir["a.xar"]);
        XarCli.AssertBadInput(r, "desktop-file-validate rejects it: error: required key \"Name\" in group \"Desktop Entry\" is not present");
        Assert.StartsWith($"xar: {Path.Combine(tree, "org.example.Test.desktop")}: ", r.StandardError);
        Assert.False(File.Exists(dir["a.xar"]));
        Assert.Empty(Directory.GetFiles(dir.Path));
    }

    [SkippableFact]
    public void WithoutTheValidatorXarChecksTheEssentialsAndSaysSo()
    {
        using var dir = new TempDir("desktop");
        Directory.CreateDirectory(dir["emptybin"]);
        var noValidator = new Dictionary<string, string?> { ["PATH"] = dir["emptybin"] };
        string tree = Tree(dir, "[Desktop Entry]\nType=Application\nExec=AppRun\n");
        XarCli.AssertBadInput(Pack(noValidator, tree, "-o", dir["a.xar"]), "required key \"Name\" in group [Desktop Entry] is not present");
        File.WriteAllText(Path.Combine(tree, "org.example.Test.desktop"), "Name=x\n[Desktop Entry]\nType=Application\nName=Test\nExec=AppRun\n");
        XarCli.AssertBadInput(Pack(noValidator, tree, "-o", dir["a.xar"]), "line 1 is a key before the first group");
        File.WriteAllText(Path.Combine(tree, "org.example.Test.desktop"), "[Desktop Entry]\nType=Application\nName=Test\nExec=AppRun\nBogus=1\n");
        XarCli.AssertBadInput(Pack(noValidator, tree, "-o", dir["a.xar"]), "key \"Bogus\" in group [Desktop Entry] is not in the specification");
        File.WriteAllText(Path.Combine(tree, "org.example.Test.desktop"), "[Desktop Entry]\nType=Application\nName=Test\n");
        XarCli.AssertBadInput(Pack(noValidator, tree, "-o", dir["a.xar"]), "required key \"Exec\" for Type=Application");
        // Accepted, with a warning that names what was not checked.
        File.WriteAllText(Path.Combine(tree, "org.example.Test.desktop"), "[Desktop Entry]\nType=Application\nName=Test\nExec=AppRun\n");
        var ok = Pack(noValidator, tree, "-o", dir["a.xar"]);
        Assert.True(ok.ExitCode == 0, ok.StandardError);
        Assert.Contains("warning: " + Path.Combine(tree, "org.example.Test.desktop") + ": desktop-file-validate is not installed (Debian package desktop-file-utils): checked only the required keys, groups and syntax", ok.StandardError);
    }

    [SkippableFact]
    public void DesktopFileAndIconFromElsewhereGoToTheImageRoot()
    {
        TestEnv.RequireTool("desktop-file-validate");
        using var dir = new TempDir("desktop");
        string tree = Tree(dir, null);
        Directory.CreateDirectory(dir["elsewhere"]);
        File.WriteAllText(dir["elsewhere/org.example.Test.desktop"], ValidEntry);
        File.WriteAllBytes(dir["elsewhere/picture.png"], Png(48));
        Pack(null, tree, "-o", dir["a.xar"], "--desktop-file", dir["elsewhere/org.example.Test.desktop"], "--icon", dir["elsewhere/picture.png"], "-q").EnsureSuccess("pack");
        string listing = Ls(dir["a.xar"]);
        Assert.Contains("squashfs-root/org.example.Test.desktop\n", listing);
        Assert.Contains("squashfs-root/org.example.Test.png\n", listing);
        Assert.Equal(ValidEntry, XarCli.Run("cat", dir["a.xar"], "org.example.Test.desktop").EnsureSuccess("cat").StandardOutput);
        Assert.Equal(Png(48), XarCli.Run("cat", dir["a.xar"], "org.example.Test.png").EnsureSuccess("cat").StandardOutputBytes);
        Assert.Equal("AppRun", XarHeader.ReadFromFile(dir["a.xar"]).Exec);
        // The tree itself is untouched.
        Assert.Equal(["AppRun"], Directory.GetFileSystemEntries(tree).Select(p => Path.GetFileName(p)).ToArray());
    }

    [SkippableFact]
    public void IconAtTheRootIsCheckedAndAMissingOneWarned()
    {
        TestEnv.RequireTool("desktop-file-validate");
        using var dir = new TempDir("desktop");
        string tree = Tree(dir, ValidEntry);
        var missing = Pack(null, tree, "-o", dir["a.xar"]);
        Assert.True(missing.ExitCode == 0, missing.StandardError);
        Assert.Contains("Icon=org.example.Test, but no org.example.Test.png, org.example.Test.svg or .DirIcon at the image root", missing.StandardError);
        File.WriteAllText(Path.Combine(tree, "org.example.Test.png"), "not a picture");
        XarCli.AssertBadInput(Pack(null, tree, "-o", dir["b.xar"]), "org.example.Test.png: is not a PNG image");
        File.WriteAllBytes(Path.Combine(tree, "org.example.Test.png"), Png(100));
        var odd = Pack(null, tree, "-o", dir["c.xar"]);
        Assert.True(odd.ExitCode == 0, odd.StandardError);
        Assert.Contains("a 100x100 PNG, a size the hicolor icon theme does not list", odd.StandardError);
        File.WriteAllText(Path.Combine(tree, "org.example.Test.desktop"), ValidEntry.Replace("Icon=org.example.Test", "Icon=/usr/share/pixmaps/test.png"));
        var path = Pack(null, tree, "-o", dir["d.xar"]);
        Assert.True(path.ExitCode == 0, path.StandardError);
        Assert.Contains("Icon=/usr/share/pixmaps/test.png is a path, not an icon name: the bundle carries no icon of its own", path.StandardError);
    }

    [SkippableFact]
    public void BundleMistakesAreOneLineAndExit2()
    {
        TestEnv.RequireTool("desktop-file-validate");
        using var dir = new TempDir("desktop");
        string tree = Tree(dir, ValidEntry);
        File.WriteAllText(Path.Combine(tree, "second.desktop"), ValidEntry);
        XarCli.AssertBadInput(Pack(null, tree, "-o", dir["a.xar"]), "has 2 desktop files at its root (org.example.Test.desktop, second.desktop); a bundle has one");
        File.Delete(Path.Combine(tree, "second.desktop"));
        File.WriteAllText(dir["other.desktop"], ValidEntry);
        XarCli.AssertBadInput(Pack(null, tree, "-o", dir["a.xar"], "--desktop-file", dir["other.desktop"]), "has org.example.Test.desktop at its root already");
        File.WriteAllText(dir["not-an-icon.png"], "text");
        XarCli.AssertBadInput(Pack(null, tree, "-o", dir["a.xar"], "--icon", dir["not-an-icon.png"]), "--icon: neither a PNG nor an SVG image");
        XarCli.AssertBadInput(Pack(null, tree, "-o", dir["a.sqfs"], "--format", "squashfs", "--desktop-file", dir["other.desktop"]), "--desktop-file needs --format xar");
        File.WriteAllText(dir["entry.txt"], ValidEntry);
        File.Delete(Path.Combine(tree, "org.example.Test.desktop"));
        XarCli.AssertBadInput(Pack(null, tree, "-o", dir["a.xar"], "--desktop-file", dir["entry.txt"]), "--desktop-file: the file name must be APP_ID.desktop");
        File.SetUnixFileMode(Path.Combine(tree, "AppRun"), (UnixFileMode)0x1A4);
        XarCli.AssertBadInput(Pack(null, tree, "-o", dir["a.xar"]), "AppRun: is the entrypoint when --exec is not given, but not an executable file");
        // A desktop file linked from outside the tree is not read through the link.
        File.SetUnixFileMode(Path.Combine(tree, "AppRun"), (UnixFileMode)0x1ED);
        File.CreateSymbolicLink(Path.Combine(tree, "org.example.Test.desktop"), dir["other.desktop"]);
        XarCli.AssertBadInput(Pack(null, tree, "-o", dir["a.xar"]), "is a symbolic link to nothing inside SOURCE_DIR");
        Assert.False(File.Exists(dir["a.xar"]));
    }

    [SkippableFact]
    public void AnAppDirWithLinkedDesktopFileAndDirIconPacks()
    {
        TestEnv.RequireTool("desktop-file-validate");
        using var dir = new TempDir("desktop");
        string tree = Tree(dir, null);
        Directory.CreateDirectory(Path.Combine(tree, "usr/share/applications"));
        File.WriteAllText(Path.Combine(tree, "usr/share/applications/org.example.Test.desktop"), ValidEntry);
        File.CreateSymbolicLink(Path.Combine(tree, "org.example.Test.desktop"), "usr/share/applications/org.example.Test.desktop");
        File.WriteAllBytes(Path.Combine(tree, ".DirIcon"), Png(64));
        var r = Pack(null, tree, "-o", dir["a.xar"]);
        Assert.True(r.ExitCode == 0, r.StandardError);
        Assert.DoesNotContain("warning", r.StandardError);
        Assert.Equal("AppRun", XarHeader.ReadFromFile(dir["a.xar"]).Exec);
    }

    [SkippableFact]
    public void AMalformedExecLineIsRefusedAtPack()
    {
        using var dir = new TempDir("desktop");
        // desktop-file-validate lets text stuck to a closing quote through; install would keep it glued to the path it writes.
        string tree = Tree(dir, "[Desktop Entry]\nType=Application\nName=Test\nExec=\"AppRun\".sh %U\n");
        var r = Pack(null, tree, "-o", dir["a.xar"]);
        XarCli.AssertBadInput(r, $"xar: {Path.Combine(tree, "org.example.Test.desktop")}: Exec=\"AppRun\".sh %U in group [Desktop Entry] has '.' right after a closing quote, where a space or the end of the line must follow");
        File.WriteAllText(Path.Combine(tree, "org.example.Test.desktop"), "[Desktop Entry]\nType=Application\nName=Test\nExec=AppRun\\t--x\n");
        XarCli.AssertBadInput(Pack(null, tree, "-o", dir["a.xar"]), "Exec=AppRun\t--x in group [Desktop Entry] has a tab outside quotes");
        Assert.False(File.Exists(dir["a.xar"]));
    }

    [SkippableFact]
    public void PackRefusesTheAppIdsInstallRefusesInItsWords()
    {
        using var dir = new TempDir("desktop");
        const string rule = "the app id (the file name without .desktop) may hold only A-Za-z0-9 . _ - and not start with a dot";
        Assert.Equal(rule, Xar.Packer.Desktop.DesktopBundle.AppIdProblem("my app"));
        string tree = Tree(dir, null);
        foreach (string name in new[] { "my app.desktop", "a+b.desktop", ".hidden.desktop", "caf\u00e9.desktop" })
        {
            Directory.CreateDirectory(dir["given"]);
            File.WriteAllText(Path.Combine(dir["given"], name), ValidEntry);
            var given = Pack(null, tree, "-o", dir["a.xar"], "--desktop-file", Path.Combine(dir["given"], name));
            XarCli.AssertBadInput(given, $"xar: {Path.Combine(dir["given"], name)}: --desktop-file: {rule}");
            File.Delete(Path.Combine(dir["given"], name));
            File.WriteAllText(Path.Combine(tree, name), ValidEntry);
            XarCli.AssertBadInput(Pack(null, tree, "-o", dir["a.xar"]), $"xar: {Path.Combine(tree, name)}: {rule}");
            File.Delete(Path.Combine(tree, name));
        }
        Assert.False(File.Exists(dir["a.xar"]));
    }
}
