using Xar.Tests;

namespace Xar.Packer.Tests;

/// <summary>
/// `xar node`: the entrypoint from package.json (bin by name, the only bin, main), bad input (no package.json,
/// neither bin nor main, --bin naming nothing, several bins, no lock file, an entry that is not there), npm ci
/// failing, and the project's folder left as it was. (samples/node-app packed and run: Launcher.Tests' NodeSampleTests.)
/// </summary>
public sealed class NodeCommandTests
{
    private static ProcessResult RunXar(TempDir tmp, params string[] args)
    {
        Directory.CreateDirectory(tmp["tmp"]);
        return TestEnv.Run(new RunOptions(XarBinary.Path, args) { Environment = new Dictionary<string, string?> { ["TMPDIR"] = tmp["tmp"] } });
    }

    private static void AssertNothingLeft(TempDir tmp) => Assert.Empty(Directory.EnumerateFileSystemEntries(tmp["tmp"], "xar-*"));

    /// <summary>A project with this package.json, bin/a.js, bin/b.js and index.js, and a lock file.</summary>
    private static string Project(TempDir tmp, string packageJson, bool withLock = true)
    {
        string dir = tmp["app"];
        Directory.CreateDirectory(Path.Combine(dir, "bin"));
        File.WriteAllText(Path.Combine(dir, "package.json"), packageJson);
        foreach (string file in (string[])["bin/a.js", "bin/b.js", "index.js"])
            File.WriteAllText(Path.Combine(dir, file), $"console.log('{file}');\n");
        if (withLock)
            File.WriteAllText(Path.Combine(dir, "package-lock.json"), """{ "name": "app", "version": "1.0.0", "lockfileVersion": 3, "requires": true, "packages": { "": { "name": "app", "version": "1.0.0" } } }""");
        return dir;
    }

    /// <summary>The entry file the launch script runs.</summary>
    private static string PackedEntry(string xar)
    {
        string script = XarCli.Run("cat", xar, "xar_node.sh").EnsureSuccess("xar cat").StandardOutput;
        string exec = script.Split('\n').Single(l => l.StartsWith("exec ", StringComparison.Ordinal));
        return exec.Split('\'')[1];
    }

    [Theory]
    [InlineData("""{ "name": "app", "bin": "bin/a.js" }""", null, "app/bin/a.js")]
    [InlineData("""{ "name": "@scope/app", "bin": "./bin/b.js" }""", "app", "app/bin/b.js")]
    [InlineData("""{ "name": "app", "bin": { "a": "bin/a.js", "b": "bin/b.js" } }""", "b", "app/bin/b.js")]
    [InlineData("""{ "name": "app", "bin": { "x": "bin/a.js", "app": "bin/b.js" } }""", null, "app/bin/b.js")]
    [InlineData("""{ "name": "app", "bin": { "only": "bin/a.js" } }""", null, "app/bin/a.js")]
    [InlineData("""{ "name": "app", "main": "index" }""", null, "app/index.js")]
    public void EntryComesFromPackageJson(string packageJson, string? bin, string expected)
    {
        TestEnv.RequireTool("node");
        TestEnv.RequireTool("npm");
        using var tmp = new TempDir();
        string project = Project(tmp, packageJson);
        string[] args = ["node", project, "-o", tmp["app.xar"], "--quiet"];
        var r = RunXar(tmp, bin is null ? args : [.. args, "--bin", bin]);
        r.EnsureSuccess("xar node");
        Assert.Equal(expected, PackedEntry(tmp["app.xar"]));
        Assert.Equal("xar_node.sh", Xar.Runtime.XarHeader.ReadFromFile(tmp["app.xar"])["XAR_EXEC"]);
        AssertNothingLeft(tmp);
    }

    [Theory]
    [InlineData("""{ "name": "app", "version": "1.0.0" }""", null, "package.json has neither bin nor main")]
    [InlineData("""{ "name": "app", "bin": { "a": "bin/a.js", "b": "bin/b.js" } }""", null, "package.json has 2 bins (a, b): choose one with --bin NAME")]
    [InlineData("""{ "name": "app", "bin": { "a": "bin/a.js", "b": "bin/b.js" } }""", "c", "--bin c: package.json has no such bin (it has: a, b)")]
    [InlineData("""{ "name": "app", "bin": "bin/a.js" }""", "other", "--bin other: package.json has one bin, app")]
    [InlineData("""{ "name": "app", "main": "index.js" }""", "a", "--bin a: package.json has no bin")]
    [InlineData("""{ "name": "app", "main": "missing.js" }""", null, "the entrypoint missing.js does not exist in the project")]
    [InlineData("""{ "name": "app", "main": "../outside.js" }""", null, "the entrypoint ../outside.js is outside the project")]
    [InlineData("""[1, 2]""", null, "not a package")]
    [InlineData("""{ "name": """, null, "not valid JSON")]
    public void PackageJsonWithoutAUsableEntryIsBadInput(string packageJson, string? bin, string message)
    {
        using var tmp = new TempDir();
        string project = Project(tmp, packageJson);
        File.WriteAllText(tmp["app.xar"], "old");
        string[] args = ["node", project, "-o", tmp["app.xar"]];
        XarCli.AssertBadInput(RunXar(tmp, bin is null ? args : [.. args, "--bin", bin]), message);
        Assert.Equal("old", File.ReadAllText(tmp["app.xar"]));
        AssertNothingLeft(tmp);
    }

    [Fact]
    public void MissingProjectPackageJsonOrLockFileIsBadInput()
    {
        using var tmp = new TempDir();
        XarCli.AssertBadInput(RunXar(tmp, "node", tmp["nothing"], "-o", tmp["a.xar"]), $"xar: {tmp["nothing"]}: no such folder");
        Directory.CreateDirectory(tmp["empty"]);
        XarCli.AssertBadInput(RunXar(tmp, "node", tmp["empty"], "-o", tmp["a.xar"]), $"xar: {tmp["empty"]}: no package.json in this folder");
        string project = Project(tmp, """{ "name": "app", "main": "index.js", "dependencies": { "x": "1.0.0" } }""", withLock: false);
        XarCli.AssertBadInput(RunXar(tmp, "node", project, "-o", tmp["a.xar"]), "no package-lock.json: npm ci installs exactly what the lock file says");
        XarCli.AssertBadInput(RunXar(tmp, "node", project, "-o", tmp["a.xar"], "--no-install"), "--no-install: package.json has dependencies and there is no node_modules");
        XarCli.AssertBadInput(RunXar(tmp, "node", project, "-o", tmp["a.xar"], "--bundle-node", tmp["empty"]), "--bundle-node: is a directory");
        XarCli.AssertBadInput(RunXar(tmp, "node", project, "-o", tmp["a.xar"], "--bundle-node=" + tmp["no-node"]), "--bundle-node: no such file");
        Assert.False(File.Exists(tmp["a.xar"]));
        AssertNothingLeft(tmp);
    }

    /// <summary>A lock file that does not match package.json: npm ci refuses, one line, exit 1, OUT as it was.</summary>
    [SkippableFact]
    public void NpmCiFailingIsOneLine()
    {
        TestEnv.RequireTool("node");
        TestEnv.RequireTool("npm");
        using var tmp = new TempDir();
        string project = Project(tmp, """{ "name": "app", "version": "1.0.0", "main": "index.js", "dependencies": { "semver": "file:vendor/semver.tgz" } }""");
        File.WriteAllText(tmp["app.xar"], "old");
        var r = RunXar(tmp, "node", project, "-o", tmp["app.xar"], "--quiet");
        Assert.True(r.ExitCode == 1, $"exit {r.ExitCode}: {r.StandardError}");
        Assert.StartsWith($"xar: {project}: npm ci failed: ", r.StandardError);
        Assert.Single(r.StandardError.TrimEnd('\n').Split('\n'));
        Assert.Equal("old", File.ReadAllText(tmp["app.xar"]));
        AssertNothingLeft(tmp);
    }

    /// <summary>Packing the sample (npm ci, --bundle-node) writes nothing into its folder: no node_modules, nothing changed.</summary>
    [SkippableFact]
    public void ProjectFolderIsLeftAsItWas()
    {
        TestEnv.RequireTool("node");
        TestEnv.RequireTool("npm");
        using var tmp = new TempDir();
        string project = tmp["node-app"];
        TestEnv.Run("cp", "-a", Path.Combine(TestEnv.RepoRoot, "samples", "node-app"), project).EnsureSuccess("cp");
        TestEnv.Run("rm", "-rf", Path.Combine(project, "node_modules")).EnsureSuccess("rm");
        string before = Listing(project);
        RunXar(tmp, "node", project, "-o", tmp["app.xar"], "--bundle-node", "--quiet").EnsureSuccess("xar node");
        Assert.Equal(before, Listing(project));
        Assert.False(Directory.Exists(Path.Combine(project, "node_modules")));
        var names = XarCli.Run("ls", tmp["app.xar"]).EnsureSuccess("xar ls").StandardOutput.Split('\n');
        foreach (string entry in (string[])["app/package.json", "app/node_modules/semver/package.json", "app/node_modules/.bin/semver", "node/bin/node", "xar_node.sh"])
            Assert.Contains("squashfs-root/" + entry, names);
        AssertNothingLeft(tmp);
    }

    /// <summary>
    /// `xar node . -o app.xar` run twice: the first app.xar is not packed into the second, and the second is refused
    /// (exit 2, as xar pack refuses an existing OUT inside SOURCE_DIR) instead of replacing a file of the project.
    /// </summary>
    [SkippableFact]
    public void OutputInsideTheProjectIsNotPackedAndAnExistingOneIsRefused()
    {
        TestEnv.RequireTool("node");
        TestEnv.RequireTool("npm");
        using var tmp = new TempDir();
        string project = Project(tmp, """{ "name": "app", "main": "index.js" }""");
        string output = Path.Combine(project, "app.xar");
        RunXar(tmp, "node", project, "-o", output, "--quiet").EnsureSuccess("xar node");
        var names = XarCli.Run("ls", output).EnsureSuccess("xar ls").StandardOutput.Split('\n');
        Assert.Contains("squashfs-root/app/index.js", names);
        Assert.DoesNotContain("squashfs-root/app/app.xar", names);
        byte[] first = File.ReadAllBytes(output);
        XarCli.AssertBadInput(RunXar(tmp, "node", project, "-o", output, "--quiet"), $"xar: {output}: exists inside PROJECT_DIR: packing would replace a file it packs");
        Assert.Equal(first, File.ReadAllBytes(output));
        AssertNothingLeft(tmp);
    }

    /// <summary>OUT naming the project's entry file (or any file of it) is refused before any work, the file left as it was.</summary>
    [Fact]
    public void OutputThatNamesAProjectFileIsRefused()
    {
        using var tmp = new TempDir();
        string project = Project(tmp, """{ "name": "app", "bin": "bin/a.js" }""");
        string entry = Path.Combine(project, "bin", "a.js");
        XarCli.AssertBadInput(RunXar(tmp, "node", project, "-o", entry), $"xar: {entry}: exists inside PROJECT_DIR: packing would replace a file it packs (write OUT outside PROJECT_DIR, or remove it first)");
        Assert.Equal("console.log('bin/a.js');\n", File.ReadAllText(entry));
        AssertNothingLeft(tmp);
    }

    /// <summary>
    /// An --exclude that leaves out the entry file or the node_modules the app has is refused before any work (exit 2,
    /// naming the pattern): the file would start nothing. Other excludes pass.
    /// </summary>
    [Fact]
    public void ExcludingWhatTheEntrypointNeedsIsRefused()
    {
        using var tmp = new TempDir();
        string project = Project(tmp, """{ "name": "app", "bin": "bin/a.js" }""");
        Directory.CreateDirectory(Path.Combine(project, "node_modules", "x"));
        File.WriteAllText(tmp["app.xar"], "old");
        foreach (var (pattern, message) in new[]
        {
            ("bin", "xar: --exclude bin: leaves out app/bin, which the app needs to start (app/bin/a.js)"),
            ("*.js", "xar: --exclude *.js: leaves out app/bin/a.js, which the app needs to start"),
            ("app", "xar: --exclude app: leaves out app, which the app needs to start (app/bin/a.js)"),
            ("node_modules", "xar: --exclude node_modules: leaves out app/node_modules, which the app needs to start"),
        })
        {
            var r = RunXar(tmp, "node", project, "-o", tmp["app.xar"], "--no-install", "--exclude", pattern);
            XarCli.AssertBadInput(r, message);
            Assert.Equal(message + "\n", r.StandardError);
        }
        Assert.Equal("old", File.ReadAllText(tmp["app.xar"]));
        AssertNothingLeft(tmp);
    }

    /// <summary>A top-level name that is not UTF-8 (top\xff.txt) is copied and packed by its bytes.</summary>
    [SkippableFact]
    public void TopLevelNameThatIsNotUtf8IsPackedByItsBytes()
    {
        TestEnv.RequireTool("node");
        using var tmp = new TempDir();
        string project = Project(tmp, """{ "name": "app", "main": "index.js" }""");
        TestEnv.Run("sh", "-c", "printf 'bytes\\n' > \"$1/$(printf 'top\\377.txt')\"", "sh", project).EnsureSuccess("printf");
        RunXar(tmp, "node", project, "-o", tmp["app.xar"], "--no-install", "--quiet").EnsureSuccess("xar node");
        TestEnv.Run(XarBinary.Path, "extract", tmp["app.xar"], "-o", tmp["x"]).EnsureSuccess("xar extract");
        var copied = TestEnv.Run("sh", "-c", "cat \"$1/app/$(printf 'top\\377.txt')\"", "sh", tmp["x"]).EnsureSuccess("cat the copy");
        Assert.Equal("bytes\n", copied.StandardOutput);
        AssertNothingLeft(tmp);
    }

    /// <summary>A FIFO named package.json is refused at once (exit 2), not waited on.</summary>
    [Fact]
    public void PackageJsonThatIsNotARegularFileIsRefused()
    {
        using var tmp = new TempDir();
        string project = Project(tmp, "{}");
        File.Delete(Path.Combine(project, "package.json"));
        TestEnv.Run("mkfifo", Path.Combine(project, "package.json")).EnsureSuccess("mkfifo");
        XarCli.AssertBadInput(RunXar(tmp, "node", project, "-o", tmp["app.xar"]), $"xar: {project}/package.json: package.json: is not a regular file");
        Assert.False(File.Exists(tmp["app.xar"]));
        AssertNothingLeft(tmp);
    }

    /// <summary>
    /// A main of lib/e.js where lib is a link to a folder outside the project: the text is inside, the real path is not,
    /// and the image would hold a link to that absolute path. Refused (exit 2), naming the real path.
    /// </summary>
    [Fact]
    public void EntryWhoseRealPathIsOutsideTheProjectIsRefused()
    {
        using var tmp = new TempDir();
        string project = Project(tmp, """{ "name": "app", "main": "lib/e.js" }""");
        Directory.CreateDirectory(tmp["outside"]);
        File.WriteAllText(tmp["outside/e.js"], "console.log('elsewhere');\n");
        File.CreateSymbolicLink(Path.Combine(project, "lib"), tmp["outside"]);
        XarCli.AssertBadInput(RunXar(tmp, "node", project, "-o", tmp["app.xar"]), "the entrypoint lib/e.js is outside the project (its real path is ");
        Assert.Contains("/outside/e.js: a symbolic link on the way leaves it)", RunXar(tmp, "node", project, "-o", tmp["app.xar"]).StandardError);
        Assert.False(File.Exists(tmp["app.xar"]));
        AssertNothingLeft(tmp);
    }

    /// <summary>
    /// Links in the packed app whose target is absolute or climbs out of the image get one warning line each, five at
    /// most and then a count; links that stay inside (an entry that is a link to a file of the project) get none.
    /// </summary>
    [SkippableFact]
    public void LinksThatLeaveTheImageAreWarnedAbout()
    {
        TestEnv.RequireTool("node");
        using var tmp = new TempDir();
        string project = Project(tmp, """{ "name": "app", "main": "alias.js" }""");
        File.CreateSymbolicLink(Path.Combine(project, "alias.js"), "index.js");
        File.CreateSymbolicLink(Path.Combine(project, "bin", "inside"), "../index.js");
        File.CreateSymbolicLink(Path.Combine(project, "0up"), "../../x");
        for (int i = 0; i < 6; i++)
            File.CreateSymbolicLink(Path.Combine(project, $"abs{i}"), $"/etc/abs{i}");
        var r = RunXar(tmp, "node", project, "-o", tmp["app.xar"], "--no-install");
        r.EnsureSuccess("xar node");
        var warnings = r.StandardError.Split('\n').Where(l => l.StartsWith("xar: warning: ", StringComparison.Ordinal)).ToList();
        Assert.Equal(6, warnings.Count);
        Assert.Equal("xar: warning: 2 more symbolic links leave the image", warnings[5]);
        Assert.All(warnings.Take(5), w => Assert.EndsWith(": a symbolic link that leaves the image (packed as it is, it points at whatever is there where the file runs)", w));
        Assert.StartsWith("xar: warning: app/0up -> ../../x: ", warnings[0]);
        Assert.StartsWith("xar: warning: app/abs3 -> /etc/abs3: ", warnings[4]);
        Assert.DoesNotContain(warnings, w => w.Contains("inside", StringComparison.Ordinal) || w.Contains("alias", StringComparison.Ordinal));
        Assert.Equal("app/alias.js", PackedEntry(tmp["app.xar"]));
        Assert.DoesNotContain("warning", RunXar(tmp, "node", project, "-o", tmp["quiet.xar"], "--no-install", "--quiet").StandardError);
    }

    /// <summary>
    /// A file: dependency is installed by npm as a link to its folder, not a copy: one outside the project (file:../lib)
    /// became a link in the image to nothing (npm ci in the staging copy resolves ../lib there), so the file failed to load
    /// it; a linked package in a --no-install node_modules (npm link: an absolute link) loaded whatever is at that path
    /// where the file runs. Both are refused (exit 2), naming the link; a file: dependency inside the project is packed.
    /// </summary>
    [SkippableFact]
    public void FileDependencyLinkedOutsideTheImageIsRefused()
    {
        TestEnv.RequireTool("node");
        TestEnv.RequireTool("npm");
        using var tmp = new TempDir();
        string project = Project(tmp, """{ "name": "app", "version": "1.0.0", "main": "index.js", "dependencies": { "mylib": "file:../lib" } }""");
        Directory.CreateDirectory(tmp["lib"]);
        File.WriteAllText(tmp["lib/package.json"], """{ "name": "mylib", "version": "1.0.0" }""");
        File.WriteAllText(tmp["lib/index.js"], "module.exports = 1;\n");
        File.WriteAllText(Path.Combine(project, "package-lock.json"), """
            { "name": "app", "version": "1.0.0", "lockfileVersion": 3, "requires": true, "packages": {
              "": { "name": "app", "version": "1.0.0", "dependencies": { "mylib": "file:../lib" } },
              "../lib": { "name": "mylib", "version": "1.0.0" },
              "node_modules/mylib": { "resolved": "../lib", "link": true } } }
            """);
        XarCli.AssertBadInput(RunXar(tmp, "node", project, "-o", tmp["app.xar"], "--quiet"),
            "app/node_modules/mylib -> ../../lib: a package installed as a link to nothing in the image (npm links a file: dependency's folder instead of copying it)");
        Assert.False(File.Exists(tmp["app.xar"]));
        AssertNothingLeft(tmp);

        Directory.CreateDirectory(Path.Combine(project, "node_modules"));
        File.CreateSymbolicLink(Path.Combine(project, "node_modules", "mylib"), tmp["lib"]);
        XarCli.AssertBadInput(RunXar(tmp, "node", project, "-o", tmp["app.xar"], "--no-install", "--quiet"),
            $"app/node_modules/mylib -> {tmp["lib"]}: a package installed as a link to a folder outside the image");
        Assert.False(File.Exists(tmp["app.xar"]));

        // Inside the project: npm's link stays in the image and names the package there.
        Directory.Delete(Path.Combine(project, "node_modules"), recursive: true);
        Directory.Move(tmp["lib"], Path.Combine(project, "lib"));
        File.WriteAllText(Path.Combine(project, "package.json"), """{ "name": "app", "version": "1.0.0", "main": "index.js", "dependencies": { "mylib": "file:./lib" } }""");
        File.WriteAllText(Path.Combine(project, "package-lock.json"), """
            { "name": "app", "version": "1.0.0", "lockfileVersion": 3, "requires": true, "packages": {
              "": { "name": "app", "version": "1.0.0", "dependencies": { "mylib": "file:./lib" } },
              "lib": { "name": "mylib", "version": "1.0.0" },
              "node_modules/mylib": { "resolved": "lib", "link": true } } }
            """);
        RunXar(tmp, "node", project, "-o", tmp["app.xar"], "--quiet").EnsureSuccess("xar node with file:./lib");
        Assert.Contains(" squashfs-root/app/lib/index.js", XarCli.Run("ls", "-l", tmp["app.xar"]).EnsureSuccess("xar ls -l").StandardOutput);
    }

    /// <summary>
    /// The image is open to every user under umask 077 (the staging folder around it is 0700): the root 0755, and the
    /// copied project, its node_modules and what npm ci made a+rX, though the project's own files are private (as a user
    /// with that umask makes them). The mount shows these modes to every user.
    /// </summary>
    [SkippableTheory]
    [InlineData(false)]
    [InlineData(true)]
    public void ImageIsOpenToEveryUserWhateverTheUmask(bool noInstall)
    {
        TestEnv.RequireTool("node");
        TestEnv.RequireTool("npm");
        using var tmp = new TempDir();
        string project = Project(tmp, """{ "name": "app", "main": "index.js" }""");
        Directory.CreateDirectory(Path.Combine(project, "node_modules", "dep"));
        File.WriteAllText(Path.Combine(project, "node_modules", "dep", "index.js"), "module.exports = 1;\n");
        File.WriteAllText(Path.Combine(project, "bin", "tool"), "#!/bin/sh\n");
        TestEnv.Run("chmod", "-R", "go-rwx", project).EnsureSuccess("chmod");
        TestEnv.Run("chmod", "0700", Path.Combine(project, "bin", "tool")).EnsureSuccess("chmod");
        Directory.CreateDirectory(tmp["tmp"]);
        string[] args = ["node", project, "-o", tmp["app.xar"], "--quiet", .. noInstall ? ["--no-install"] : Array.Empty<string>()];
        TestEnv.Run(new RunOptions("sh", ["-c", "umask 077 && exec \"$@\"", "sh", XarBinary.Path, .. args])
        { Environment = new Dictionary<string, string?> { ["TMPDIR"] = tmp["tmp"] } }).EnsureSuccess("xar node under umask 077");
        var lines = XarCli.Run("ls", "-l", tmp["app.xar"]).EnsureSuccess("xar ls -l").StandardOutput.Split('\n');
        Assert.StartsWith("drwxr-xr-x ", lines[0]);
        Assert.EndsWith(" squashfs-root", lines[0]);
        Assert.Contains(lines, l => l.StartsWith("-rw-r--r-- ", StringComparison.Ordinal) && l.EndsWith(" squashfs-root/app/index.js", StringComparison.Ordinal));
        Assert.Contains(lines, l => l.StartsWith("-rwxr-xr-x ", StringComparison.Ordinal) && l.EndsWith(" squashfs-root/app/bin/tool", StringComparison.Ordinal));
        Assert.Equal(noInstall, lines.Any(l => l.EndsWith(" squashfs-root/app/node_modules/dep/index.js", StringComparison.Ordinal)));
        Assert.Empty(ImageModes.NotOpenToEveryUser(tmp["app.xar"]));
        AssertNothingLeft(tmp);
    }

    private static string Listing(string dir) =>
        TestEnv.Run("find", dir, "-printf", "%P %M %s %T@\\n").EnsureSuccess("find").StandardOutput.Split('\n').Order(StringComparer.Ordinal).Aggregate("", (a, l) => a + l + "\n");
}
