using System.Runtime.Versioning;
using Xar.Tests;

namespace Xar.Packer.Tests;

/// <summary>
/// `xar desktop install|uninstall FILE` under a temporary HOME: the menu entry and the icon, the entry started
/// by dex (a real desktop-entry runner), a new version replacing the old, uninstall leaving no file, bad input.
/// </summary>
[SupportedOSPlatform("linux")]
public class DesktopCommandTests
{
    private sealed class Home : IDisposable
    {
        public TempDir Dir { get; } = new("desktop-home");

        public string Path => Dir["home"];

        public string Applications => Dir["home/.local/share/applications"];

        public string Hicolor => Dir["home/.local/share/icons/hicolor"];

        public string Entry => System.IO.Path.Combine(Applications, DesktopBundleTests.SampleId + ".desktop");

        public Dictionary<string, string?> Environment => new()
        {
            ["HOME"] = Path,
            ["XDG_DATA_HOME"] = null,
            ["XDG_STATE_HOME"] = null,
            ["XDG_CONFIG_HOME"] = null,
            // A started app extracts into the test's folder: no mount outlives the test.
            ["XAR_EXTRACT"] = "1",
            ["XAR_CACHE_DIR"] = Dir["cache"],
        };

        public Home() => Directory.CreateDirectory(Path);

        public ProcessResult Xar(params string[] args) => TestEnv.Run(new RunOptions(XarBinary.Path, args) { Environment = Environment });

        /// <summary>Every file under HOME, relative to it.</summary>
        public string[] Files() => Directory.GetFiles(Path, "*", SearchOption.AllDirectories).Select(f => System.IO.Path.GetRelativePath(Path, f)).Order().ToArray();

        public void Dispose() => Dir.Dispose();
    }

    /// <summary>samples/desktop packed --self-contained into <paramref name="file"/> (extra pack options after).</summary>
    private static string PackSample(string file, params string[] options)
    {
        Directory.CreateDirectory(Path.GetDirectoryName(file)!);
        TestEnv.Run(XarBinary.Path, ["pack", DesktopBundleTests.Sample, "-o", file, "--self-contained", "--runtime", LauncherBinary.Path, "-q", .. options]).EnsureSuccess("pack samples/desktop");
        return file;
    }

    /// <summary>samples/desktop's AppRun with the desktop file <paramref name="desktopName"/> holding <paramref name="desktopText"/>, packed (plain XAR) into FILE.</summary>
    private static string PackTree(Home home, string desktopName, string desktopText)
    {
        string tree = home.Dir["tree-" + desktopName];
        Directory.CreateDirectory(tree);
        File.Copy(Path.Combine(DesktopBundleTests.Sample, "AppRun"), Path.Combine(tree, "AppRun"));
        File.WriteAllText(Path.Combine(tree, desktopName), desktopText);
        string file = home.Dir["apps/" + desktopName + ".xar"];
        Directory.CreateDirectory(Path.GetDirectoryName(file)!);
        TestEnv.Run(XarBinary.Path, "pack", tree, "-o", file, "-q").EnsureSuccess("pack " + desktopName);
        return file;
    }

    [SkippableFact]
    public void InstallWritesTheEntryAndIconAndDexStartsTheApp()
    {
        TestEnv.RequireTool("dex");
        TestEnv.RequireTool("desktop-file-validate");
        using var home = new Home();
        // A directory with a space: the Exec line must quote the path for dex to start it.
        string app = PackSample(home.Dir["my apps/hello-desktop"]);
        var r = home.Xar("desktop", "install", app);
        Assert.True(r.ExitCode == 0, r.StandardError);
        Assert.Equal("", r.StandardError);
        string icon = Path.Combine(home.Hicolor, "scalable/apps", DesktopBundleTests.SampleId + ".svg");
        Assert.Equal([".local/share/applications/org.example.HelloDesktop.desktop", ".local/share/icons/hicolor/scalable/apps/org.example.HelloDesktop.svg"], home.Files());
        Assert.Equal(File.ReadAllBytes(Path.Combine(DesktopBundleTests.Sample, DesktopBundleTests.SampleId + ".svg")), File.ReadAllBytes(icon));
        string entry = File.ReadAllText(home.Entry);
        Assert.Contains($"\nExec=\"{app}\" %F\n", entry);
        Assert.Contains($"\nTryExec={app}\n", entry);
        Assert.Contains($"\nIcon={DesktopBundleTests.SampleId}\n", entry);
        Assert.Contains("\nName=Hello Desktop\n", entry);
        Assert.Equal("0644", Convert.ToString((int)File.GetUnixFileMode(home.Entry), 8).PadLeft(4, '0'));
        // The installed entry is valid too, and dex (as a session's autostart or a menu would) starts the app from it.
        var valid = TestEnv.Run(TestEnv.FindTool("desktop-file-validate")!, home.Entry);
        Assert.True(valid.ExitCode == 0, valid.StandardOutput);
        var started = TestEnv.Run(new RunOptions(TestEnv.FindTool("dex")!, [home.Entry]) { Environment = home.Environment, WorkingDirectory = home.Dir.Path });
        Assert.True(started.ExitCode == 0, started.StandardOutput + started.StandardError);
        string log = Path.Combine(home.Path, ".local/state/hello-desktop.log");
        for (int i = 0; i < 200 && !File.Exists(log); i++)
            Thread.Sleep(50); // dex may start the program without waiting for it
        Assert.Contains($"Hello from a desktop bundle: started from {app} in ", File.ReadAllText(log));
    }

    [SkippableFact]
    public void PathsWithShellCharactersAreQuotedSoGLibStartsThem()
    {
        TestEnv.RequireTool("gio");
        using var home = new Home();
        string packed = PackSample(home.Dir["hello-desktop"]);
        string log = Path.Combine(home.Path, ".local/state/hello-desktop.log");
        foreach (string name in new[] { "with space", "dollar$HOME", "quote\"d", "back\\slash", "it's", "semi;colon & (paren) `tick` *?#~<>|" })
        {
            string app = Path.Combine(home.Dir["apps"], name, "app");
            Directory.CreateDirectory(Path.GetDirectoryName(app)!);
            File.Copy(packed, app, overwrite: true);
            home.Xar("desktop", "install", app).EnsureSuccess("install " + app);
            // gio launch: GLib's GDesktopAppInfo, what GNOME's menus start entries with (TryExec and Exec checked).
            var started = TestEnv.Run(new RunOptions(TestEnv.FindTool("gio")!, ["launch", home.Entry]) { Environment = home.Environment });
            Assert.True(started.ExitCode == 0, $"{name}: {started.StandardError}\n{File.ReadAllText(home.Entry)}");
            for (int i = 0; i < 200 && !(File.Exists(log) && File.ReadAllText(log).Contains($"started from {app} in ")); i++)
                Thread.Sleep(50);
            Assert.Contains($"started from {app} in ", File.ReadAllText(log));
        }
        // A % cannot be started by GLib (it looks the program up before undoing %%): refused, not installed broken.
        string percent = Path.Combine(home.Dir["apps"], "100%", "app");
        Directory.CreateDirectory(Path.GetDirectoryName(percent)!);
        File.Copy(packed, percent);
        XarCli.AssertBadInput(home.Xar("desktop", "install", percent), "the path holds a %");
        // An = is not allowed in an Exec line's program (pack's own check refuses one): refused too.
        string equals = Path.Combine(home.Dir["apps"], "a=b", "app");
        Directory.CreateDirectory(Path.GetDirectoryName(equals)!);
        File.Copy(packed, equals);
        XarCli.AssertBadInput(home.Xar("desktop", "install", equals), "the path holds an =");
    }

    [SkippableFact]
    public void XdgDataHomeIsWhereItGoes()
    {
        using var home = new Home();
        string app = PackSample(home.Dir["hello-desktop"]);
        var environment = home.Environment;
        environment["XDG_DATA_HOME"] = home.Dir["data"];
        TestEnv.Run(new RunOptions(XarBinary.Path, ["desktop", "install", app]) { Environment = environment }).EnsureSuccess("install");
        Assert.True(File.Exists(home.Dir["data/applications/org.example.HelloDesktop.desktop"]));
        Assert.True(File.Exists(home.Dir["data/icons/hicolor/scalable/apps/org.example.HelloDesktop.svg"]));
        Assert.Empty(home.Files());
        TestEnv.Run(new RunOptions(XarBinary.Path, ["desktop", "uninstall", app]) { Environment = environment }).EnsureSuccess("uninstall");
        Assert.Empty(Directory.GetFiles(home.Dir["data"], "*", SearchOption.AllDirectories));
    }

    [SkippableFact]
    public void UninstallLeavesNoFileBehind()
    {
        using var home = new Home();
        string app = PackSample(home.Dir["hello-desktop"]);
        home.Xar("desktop", "install", app).EnsureSuccess("install");
        Assert.NotEmpty(home.Files());
        var r = home.Xar("desktop", "uninstall", app);
        Assert.True(r.ExitCode == 0, r.StandardError);
        Assert.Contains($"removed {home.Entry}", r.StandardOutput);
        Assert.Empty(home.Files());
        // Again: nothing installed, said so, still success.
        var again = home.Xar("desktop", "uninstall", app);
        Assert.Equal(0, again.ExitCode);
        Assert.Contains("no menu entry installed", again.StandardOutput);
    }

    [SkippableFact]
    public void UninstallAfterTheFileIsGoneFindsItsEntry()
    {
        using var home = new Home();
        string app = PackSample(home.Dir["hello-desktop"]);
        home.Xar("desktop", "install", app).EnsureSuccess("install");
        File.Delete(app);
        home.Xar("desktop", "uninstall", app).EnsureSuccess("uninstall");
        Assert.Empty(home.Files());
        XarCli.AssertBadInput(home.Xar("desktop", "uninstall", app), "no such file, and no menu entry in");
    }

    [SkippableFact]
    public void ReinstallingANewVersionReplacesTheOld()
    {
        using var home = new Home();
        // Version 1 carries a 48x48 PNG; version 2, elsewhere, the sample's SVG.
        string tree = home.Dir["v1"];
        Directory.CreateDirectory(tree);
        foreach (string name in new[] { "AppRun", DesktopBundleTests.SampleId + ".desktop" })
            File.Copy(Path.Combine(DesktopBundleTests.Sample, name), Path.Combine(tree, name));
        Directory.CreateDirectory(Path.Combine(tree, "share"));
        File.WriteAllText(Path.Combine(tree, "share/greeting.txt"), "version 1\n");
        File.WriteAllBytes(home.Dir["icon.png"], DesktopBundleTests.Png(48));
        string v1 = home.Dir["v1.xar"];
        TestEnv.Run(XarBinary.Path, "pack", tree, "-o", v1, "--icon", home.Dir["icon.png"], "-q").EnsureSuccess("pack v1");
        home.Xar("desktop", "install", v1).EnsureSuccess("install v1");
        Assert.Contains(".local/share/icons/hicolor/48x48/apps/org.example.HelloDesktop.png", home.Files());
        string v2 = PackSample(home.Dir["apps/hello-desktop-2"]);
        home.Xar("desktop", "install", v2).EnsureSuccess("install v2");
        Assert.Equal([".local/share/applications/org.example.HelloDesktop.desktop", ".local/share/icons/hicolor/scalable/apps/org.example.HelloDesktop.svg"], home.Files());
        string entry = File.ReadAllText(home.Entry);
        Assert.Contains($"\nExec={v2} %F\n", entry);
        Assert.DoesNotContain(v1, entry);
    }

    [SkippableFact]
    public void AnAppImageShapedFileGetsAnEntryToo()
    {
        using var home = new Home();
        // Type 2: an ELF runtime with a bare SquashFS image right at its ELF end, the bundle's files at the image root.
        string image = home.Dir["image.sqfs"];
        TestEnv.Run(XarBinary.Path, "pack", DesktopBundleTests.Sample, "-o", image, "--format", "squashfs", "-q").EnsureSuccess("pack");
        string app = home.Dir["Hello.AppImage"];
        File.WriteAllBytes(app, [.. Xar.Runtime.XarFile.ReadRuntime(LauncherBinary.Path), .. File.ReadAllBytes(image)]);
        File.SetUnixFileMode(app, (UnixFileMode)0x1ED);
        home.Xar("desktop", "install", app).EnsureSuccess("install");
        Assert.Contains($"\nExec={app} %F\n", File.ReadAllText(home.Entry));
        Assert.Contains(".local/share/icons/hicolor/scalable/apps/org.example.HelloDesktop.svg", home.Files());
        home.Xar("desktop", "uninstall", app).EnsureSuccess("uninstall");
        Assert.Empty(home.Files());
    }

    [SkippableFact]
    public void APlainXarIsWarnedAboutOnlyWhenNothingCanStartIt()
    {
        using var home = new Home();
        string app = home.Dir["hello-desktop.xar"];
        TestEnv.Run(XarBinary.Path, "pack", DesktopBundleTests.Sample, "-o", app, "-q").EnsureSuccess("pack");
        Directory.CreateDirectory(home.Dir["bin"]);
        File.CreateSymbolicLink(home.Dir["bin/xarexec_fuse"], LauncherBinary.Path);
        var environment = home.Environment;
        environment["PATH"] = home.Dir["bin"] + ":/usr/bin:/bin";
        var found = TestEnv.Run(new RunOptions(XarBinary.Path, ["desktop", "install", app]) { Environment = environment });
        Assert.True(found.ExitCode == 0, found.StandardError);
        Assert.Equal("", found.StandardError);
        environment["PATH"] = "/usr/bin:/bin";
        TestEnv.Require(TestEnv.Run("/bin/sh", "-c", "command -v xarexec_fuse").ExitCode != 0, "xarexec_fuse is installed in /usr/bin or /bin");
        bool binfmtBefore = File.Exists("/proc/sys/fs/binfmt_misc/xar");
        var missing = TestEnv.Run(new RunOptions(XarBinary.Path, ["desktop", "install", app]) { Environment = environment });
        bool binfmtAfter = File.Exists("/proc/sys/fs/binfmt_misc/xar");
        Assert.True(missing.ExitCode == 0, missing.StandardError);
        // binfmt_misc is machine-wide (other tests register it): the warning is due only when it was absent throughout.
        if (!binfmtBefore && !binfmtAfter)
            Assert.Equal($"xar: warning: {app} is a plain XAR, started through xarexec_fuse, which is not on PATH, and binfmt_misc has no xar entry: the menu cannot start it until one is there (make install, xar binfmt install), or pack it --self-contained\n", missing.StandardError);
        else if (binfmtBefore && binfmtAfter)
            Assert.Equal("", missing.StandardError);
    }

    [SkippableFact]
    public void BadInputIsOneLineAndExit2()
    {
        using var home = new Home();
        string app = PackSample(home.Dir["hello-desktop"]);
        // A relative FILE is taken from the current directory: the entry runs its absolute path.
        var relative = TestEnv.Run(new RunOptions(XarBinary.Path, ["desktop", "install", "hello-desktop"]) { Environment = home.Environment, WorkingDirectory = home.Dir.Path });
        Assert.True(relative.ExitCode == 0, relative.StandardError);
        Assert.Contains($"TryExec={app}\n", File.ReadAllText(home.Entry));
        var removed = TestEnv.Run(new RunOptions(XarBinary.Path, ["desktop", "uninstall", "hello-desktop"]) { Environment = home.Environment, WorkingDirectory = home.Dir.Path });
        Assert.True(removed.ExitCode == 0, removed.StandardError);
        Assert.False(File.Exists(home.Entry));
        File.WriteAllText(home.Dir["text"], "not an archive\n");
        File.SetUnixFileMode(home.Dir["text"], (UnixFileMode)0x1ED);
        XarCli.AssertBadInput(home.Xar("desktop", "install", home.Dir["text"]), $"xar: {home.Dir["text"]}: ");
        XarCli.AssertBadInput(home.Xar("desktop", "install", home.Dir["missing"]), "no such file");
        // A XAR without a desktop file.
        string plain = home.Dir["plain.xar"];
        Directory.CreateDirectory(home.Dir["plain"]);
        File.WriteAllText(home.Dir["plain/run"], "#!/bin/sh\n");
        File.SetUnixFileMode(home.Dir["plain/run"], (UnixFileMode)0x1ED);
        TestEnv.Run(XarBinary.Path, "pack", home.Dir["plain"], "-o", plain, "--exec", "run", "-q").EnsureSuccess("pack");
        XarCli.AssertBadInput(home.Xar("desktop", "install", plain), "has no APP_ID.desktop at its image root");
        // A bare image.
        TestEnv.Run(XarBinary.Path, "pack", DesktopBundleTests.Sample, "-o", home.Dir["bare.sqfs"], "--format", "squashfs", "-q").EnsureSuccess("pack");
        File.SetUnixFileMode(home.Dir["bare.sqfs"], (UnixFileMode)0x1ED);
        XarCli.AssertBadInput(home.Xar("desktop", "install", home.Dir["bare.sqfs"]), "is a bare SquashFS image, not a XAR");
        File.SetUnixFileMode(app, (UnixFileMode)0x1A4);
        XarCli.AssertBadInput(home.Xar("desktop", "install", app), "is not executable");
        Assert.Empty(home.Files());
    }

    [SkippableFact]
    public void AnEntryXarDidNotWriteIsLeftAlone()
    {
        using var home = new Home();
        string app = PackSample(home.Dir["hello-desktop"]);
        Directory.CreateDirectory(home.Applications);
        const string mine = "[Desktop Entry]\nType=Application\nName=Mine\nExec=true\n";
        File.WriteAllText(home.Entry, mine);
        var install = home.Xar("desktop", "install", app);
        Assert.Equal(1, install.ExitCode);
        Assert.Contains("exists and was not written by xar desktop install: not going to replace it", install.StandardError);
        var uninstall = home.Xar("desktop", "uninstall", app);
        Assert.Equal(1, uninstall.ExitCode);
        Assert.Equal(mine, File.ReadAllText(home.Entry));
    }

    [SkippableFact]
    public void SymbolicLinksInTheMenuFoldersAreRefusedNeverFollowed()
    {
        using var home = new Home();
        string app = PackSample(home.Dir["hello-desktop"]);
        string outside = home.Dir["outside"];
        Directory.CreateDirectory(outside);
        string[] Outside() => Directory.GetFileSystemEntries(outside, "*", SearchOption.AllDirectories).Order().ToArray();
        void AssertRefused(ProcessResult r, string link)
        {
            XarCli.AssertBadInput(r, $"{link} is a symbolic link, not a directory: not followed");
            Assert.Empty(Outside());
        }

        // applications/ a link elsewhere: install writes nothing, through it or anywhere.
        Directory.CreateDirectory(Path.GetDirectoryName(home.Applications)!);
        Directory.CreateSymbolicLink(home.Applications, outside);
        AssertRefused(home.Xar("desktop", "install", app), home.Applications);
        Assert.Empty(home.Files());
        AssertRefused(home.Xar("desktop", "uninstall", app), home.Applications);
        Directory.Delete(home.Applications);

        // The icon's apps/ a link: refused before the entry is written.
        string scalable = Path.Combine(home.Hicolor, "scalable");
        Directory.CreateDirectory(scalable);
        Directory.CreateSymbolicLink(Path.Combine(scalable, "apps"), outside);
        AssertRefused(home.Xar("desktop", "install", app), Path.Combine(scalable, "apps"));
        Assert.Empty(home.Files());
        Directory.Delete(Path.Combine(scalable, "apps"));

        // Another size's apps/ a link to a folder holding an icon of that app id: not deleted through the link.
        Directory.CreateDirectory(Path.Combine(home.Hicolor, "48x48"));
        Directory.CreateSymbolicLink(Path.Combine(home.Hicolor, "48x48/apps"), outside);
        File.WriteAllText(Path.Combine(outside, DesktopBundleTests.SampleId + ".png"), "someone else's");
        XarCli.AssertBadInput(home.Xar("desktop", "install", app), $"{Path.Combine(home.Hicolor, "48x48/apps")} is a symbolic link, not a directory: not followed");
        Assert.Equal("someone else's", File.ReadAllText(Path.Combine(outside, DesktopBundleTests.SampleId + ".png")));
        Assert.False(Directory.Exists(home.Applications));
        // Installed while the folders were real, then a size folder made a link: uninstall removes nothing through it.
        Directory.Delete(Path.Combine(home.Hicolor, "48x48"), recursive: true);
        home.Xar("desktop", "install", app).EnsureSuccess("install");
        Directory.CreateSymbolicLink(Path.Combine(home.Hicolor, "48x48"), outside);
        Directory.CreateDirectory(Path.Combine(outside, "apps"));
        File.WriteAllText(Path.Combine(outside, "apps", DesktopBundleTests.SampleId + ".svg"), "someone else's");
        XarCli.AssertBadInput(home.Xar("desktop", "uninstall", app), $"{Path.Combine(home.Hicolor, "48x48")} is a symbolic link, not a directory: not followed");
        Assert.Equal("someone else's", File.ReadAllText(Path.Combine(outside, "apps", DesktopBundleTests.SampleId + ".svg")));
        Assert.True(File.Exists(home.Entry));
        File.Delete(Path.Combine(home.Hicolor, "48x48"));
        home.Xar("desktop", "uninstall", app).EnsureSuccess("uninstall");

        // A link planted as the entry itself (to a file that even looks like ours) is neither replaced nor removed.
        string planted = Path.Combine(outside, "planted.desktop");
        File.WriteAllText(planted, "[Desktop Entry]\nType=Application\nName=X\nExec=x\nX-Xar-File=/x\n");
        File.CreateSymbolicLink(home.Entry, planted);
        var install = home.Xar("desktop", "install", app);
        Assert.Equal(1, install.ExitCode);
        Assert.Contains($"{home.Entry} is a symbolic link, not an entry xar desktop install wrote: not going to replace it", install.StandardError);
        Assert.Equal(1, home.Xar("desktop", "uninstall", app).ExitCode);
        Assert.Equal(planted, new FileInfo(home.Entry).LinkTarget);
        Assert.Equal("[Desktop Entry]\nType=Application\nName=X\nExec=x\nX-Xar-File=/x\n", File.ReadAllText(planted));
        File.Delete(home.Entry);
        Directory.Delete(outside, recursive: true);
        Directory.CreateDirectory(outside);

        // From HOME down no link is followed either: ~/.local a link (say, planted by the owner of a HOME root installs into).
        Directory.Delete(home.Dir["home/.local"], recursive: true);
        Directory.CreateSymbolicLink(home.Dir["home/.local"], outside);
        AssertRefused(home.Xar("desktop", "install", app), home.Dir["home/.local"]);
    }

    [SkippableFact]
    public void AnAppIdOfAnotherDesktopFileIsRefused()
    {
        using var home = new Home();
        string app = PackSample(home.Dir["hello-desktop"]);
        var environment = home.Environment;
        environment["XDG_DATA_DIRS"] = home.Dir["local-share"] + ":" + home.Dir["share"];
        ProcessResult Install(string file) => TestEnv.Run(new RunOptions(XarBinary.Path, ["desktop", "install", file]) { Environment = environment });
        // The system's entry of that desktop file ID, in the second of $XDG_DATA_DIRS: a user's entry would hide it.
        string system = home.Dir["share/applications/" + DesktopBundleTests.SampleId + ".desktop"];
        Directory.CreateDirectory(Path.GetDirectoryName(system)!);
        File.WriteAllText(system, "[Desktop Entry]\nType=Application\nName=System\nExec=true\n");
        var refused = Install(app);
        Assert.Equal(1, refused.ExitCode);
        Assert.Equal($"xar: {app}: {system} has the desktop file ID {DesktopBundleTests.SampleId}.desktop: an entry installed for this user would take its place in every menu; not installing (pack the bundle with another app id)\n", refused.StandardError);
        Assert.Empty(home.Files());
        // A desktop file ID with a - is also that of a file in a subfolder (my-app.desktop: my/app.desktop), in the system's folders or the user's.
        string dashed = PackTree(home, "my-app.desktop", "[Desktop Entry]\nType=Application\nName=My App\nExec=AppRun\n");
        string subfolder = home.Dir["local-share/applications/my/app.desktop"];
        Directory.CreateDirectory(Path.GetDirectoryName(subfolder)!);
        File.WriteAllText(subfolder, "[Desktop Entry]\nType=Application\nName=System\nExec=true\n");
        Assert.Contains($"{subfolder} has the desktop file ID my-app.desktop", Install(dashed).StandardError);
        File.Delete(subfolder);
        string users = Path.Combine(home.Applications, "my/app.desktop");
        Directory.CreateDirectory(Path.GetDirectoryName(users)!);
        File.WriteAllText(users, "[Desktop Entry]\nType=Application\nName=Mine\nExec=true\n");
        var own = Install(dashed);
        Assert.Equal(1, own.ExitCode);
        Assert.Contains($"{users} has the desktop file ID my-app.desktop", own.StandardError);
        Assert.Equal(["my/app.desktop"], Directory.GetFiles(home.Applications, "*", SearchOption.AllDirectories).Select(f => Path.GetRelativePath(home.Applications, f)).ToArray());
        // $XDG_DATA_DIRS listing the user's own data folder does not make an entry xar wrote another's.
        File.Delete(system);
        environment["XDG_DATA_DIRS"] = home.Dir["home/.local/share"] + ":" + home.Dir["share"];
        Install(app).EnsureSuccess("install");
        Install(app).EnsureSuccess("install again");
    }

    [SkippableFact]
    public void TerminalOptionsIsLeftOutOfTheInstalledEntry()
    {
        using var home = new Home();
        string app = PackTree(home, "org.example.Term.desktop",
            "[Desktop Entry]\nType=Application\nName=Term\nExec=AppRun\nTerminal=true\nTerminalOptions=-e sh -c 'touch /tmp/owned'\nSwallowExec=sh -c 'touch /tmp/owned'\n");
        var r = home.Xar("desktop", "install", app);
        Assert.True(r.ExitCode == 0, r.StandardError);
        Assert.Contains("xar: warning: org.example.Term.desktop: TerminalOptions= left out of the menu entry", r.StandardError);
        string entry = File.ReadAllText(Path.Combine(home.Applications, "org.example.Term.desktop"));
        Assert.DoesNotContain("TerminalOptions", entry);
        Assert.Contains("xar: warning: org.example.Term.desktop: SwallowExec= left out of the menu entry", r.StandardError);
        Assert.DoesNotContain("SwallowExec", entry);
        Assert.Contains("\nTerminal=true\n", entry);
    }

    [SkippableFact]
    public void AMalformedExecLineIsRefusedAtInstall()
    {
        using var home = new Home();
        // Packed before pack checked Exec lines: an image holding one, made as a bare image plus the runtime (AppImage-shaped).
        string tree = home.Dir["tree"];
        Directory.CreateDirectory(tree);
        File.Copy(Path.Combine(DesktopBundleTests.Sample, "AppRun"), Path.Combine(tree, "AppRun"));
        File.WriteAllText(Path.Combine(tree, "org.example.Quote.desktop"), "[Desktop Entry]\nType=Application\nName=Q\nExec=\"AppRun\".sh %F\n");
        string image = home.Dir["image.sqfs"];
        TestEnv.Run(XarBinary.Path, "pack", tree, "-o", image, "--format", "squashfs", "-q").EnsureSuccess("pack");
        string app = home.Dir["Quote.AppImage"];
        File.WriteAllBytes(app, [.. Xar.Runtime.XarFile.ReadRuntime(LauncherBinary.Path), .. File.ReadAllBytes(image)]);
        File.SetUnixFileMode(app, (UnixFileMode)0x1ED);
        XarCli.AssertBadInput(home.Xar("desktop", "install", app), "org.example.Quote.desktop: Exec=\"AppRun\".sh %F has '.' right after a closing quote, where a space or the end of the line must follow");
        Assert.Empty(home.Files());
    }

    [SkippableFact]
    public void AsRootAnotherUsersHomeIsRefused()
    {
        TestEnv.RequireRoot();
        using var home = new Home();
        string app = PackSample(home.Dir["hello-desktop"]);
        // su or sudo -E: HOME is another user's. What root made there would be root's, in that user's menu folders.
        const int nobody = 65534;
        Directory.CreateDirectory(home.Applications);
        foreach (string directory in new[] { home.Path, home.Dir["home/.local"], home.Dir["home/.local/share"], home.Applications })
            File.SetUnixFileMode(directory, (UnixFileMode)0x1ED);
        TestEnv.Run("chown", "-R", $"{nobody}:{nobody}", home.Path).EnsureSuccess("chown");
        XarCli.AssertBadInput(home.Xar("desktop", "install", app), $"{home.Path} belongs to uid {nobody}, and xar desktop runs as root: the menu files would be root's, not that user's (run it as the user whose menu it is)");
        Assert.Empty(home.Files());
        Assert.False(Directory.Exists(home.Hicolor));
        XarCli.AssertBadInput(home.Xar("desktop", "uninstall", app), $"belongs to uid {nobody}");
        // The same with XDG_DATA_HOME naming the other user's data folder.
        var environment = home.Environment;
        environment["XDG_DATA_HOME"] = home.Dir["home/.local/share"];
        XarCli.AssertBadInput(TestEnv.Run(new RunOptions(XarBinary.Path, ["desktop", "install", app]) { Environment = environment }), $"{home.Dir["home/.local/share"]} belongs to uid {nobody}");
        Assert.Empty(home.Files());
    }
}
