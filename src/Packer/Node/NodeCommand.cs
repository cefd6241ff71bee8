using System.CommandLine;
using Xar.Packer.Cli;
using Xar.Runtime;

namespace Xar.Packer.Node;

/// <summary>
/// <c>xar node PROJECT_DIR -o OUT [--bin NAME] [--bundle-node [PATH]] [--no-install]</c>: a copy of the project with its
/// production dependencies as the lock file says (npm ci --omit=dev), optionally a node, and <see cref="NodeLaunchScript"/>
/// as the entrypoint. The project's folder is only read.
/// </summary>
public static class NodeCommand
{
    public static Command Create()
    {
        var project = new Argument<string>("PROJECT_DIR") { Description = "The folder with package.json (and package-lock.json)" };
        var bin = new Option<string?>("--bin") { HelpName = "NAME", Description = "Which of package.json's bins is the entrypoint, when it has several (default: bin, else main)" };
        var bundleNode = new Option<string?>("--bundle-node")
        {
            HelpName = "PATH",
            Description = "Put a node executable (default: the one on PATH) and the libraries it needs beyond glibc into the file, so it runs where no Node.js is installed",
            Arity = ArgumentArity.ZeroOrOne,
        };
        var noInstall = new Option<bool>("--no-install") { Description = "Pack the project's node_modules as it is instead of running npm ci --omit=dev" };
        var options = new PackOptions();
        var command = new Command("node", "Pack a Node.js app with its production dependencies (npm ci --omit=dev) into a XAR that runs its package.json bin")
        {
            project, bin, bundleNode, noInstall,
        };
        options.AddTo(command);
        command.SetAction(parse => FrontEndException.Guard(() =>
        {
            string directory = parse.GetValue(project)!;
            options.Check(parse);
            bool bundle = parse.GetResult(bundleNode) is not null;
            if (parse.GetValue(bundleNode) is { } givenNode)
                NodeRuntime.CheckGiven(givenNode);
            if (!Directory.Exists(directory))
                throw new UsageException(File.Exists(directory) ? "is not a folder (PROJECT_DIR is the folder with package.json)" : "no such folder", directory);
            options.CheckOutputIsNotInput(parse, directory, "PROJECT_DIR");
            var package = NodePackage.Read(directory, parse.GetValue(bin));
            bool install = !parse.GetValue(noInstall);
            if (install && !File.Exists(Path.Combine(directory, "package-lock.json")) && !File.Exists(Path.Combine(directory, "npm-shrinkwrap.json")))
                throw new UsageException("no package-lock.json: npm ci installs exactly what the lock file says (run npm install once to make it, or pack the node_modules there with --no-install)", directory);
            if (!install && package.HasDependencies && !Directory.Exists(Path.Combine(directory, "node_modules")))
                throw new UsageException("--no-install: package.json has dependencies and there is no node_modules", directory);
            bool quiet = parse.GetValue(options.Quiet);
            bool withModules = install ? package.HasDependencies : Directory.Exists(Path.Combine(directory, "node_modules"));
            options.CheckNotExcluded(parse, ["app/" + package.Entry, .. withModules ? ["app/node_modules"] : Array.Empty<string>(), .. bundle ? ["node/bin/node"] : Array.Empty<string>()]);

            using var staging = new StagingDirectory("node");
            var node = NodeRuntime.Find(bundle ? parse.GetValue(bundleNode) : null, staging.Cancellation);
            string image = staging.CreateImageRoot(), app = Path.Combine(image, "app");
            Directory.CreateDirectory(app);
            CopyProject(directory, app, withNodeModules: !install, staging.Cancellation);
            if (install)
            {
                if (!quiet)
                    Console.Error.WriteLine($"xar: npm ci --omit=dev ({package.Name})");
                NpmCi(app, directory, staging.Cancellation);
            }
            CheckLinks(image, quiet, staging.Cancellation);
            bool withLibraries = false;
            if (bundle)
            {
                var libraries = node.CopyTo(Path.Combine(image, "node"), staging.Cancellation);
                withLibraries = libraries.Count > 0;
                if (!quiet)
                    Console.Error.WriteLine($"xar: bundling node {node.Version} ({node.Executable}){(withLibraries ? " with the libraries it needs beyond glibc: " + string.Join(", ", libraries) : ", which needs nothing beyond glibc")}");
            }
            string script = Path.Combine(image, NodeLaunchScript.FileName);
            File.WriteAllText(script, NodeLaunchScript.Text(package.Name, "app/" + package.Entry, node, bundle, withLibraries));
            Xar.Posix.LibC.Chmod(script, 0x1ED); // 0755
            StagingDirectory.OpenToEveryUser(image); // the copy and npm's files were made under the umask
            staging.Cancellation.ThrowIfCancellationRequested();
            return options.Pack(parse, image, new XarWriterOptions { ExecPath = NodeLaunchScript.FileName });
        }));
        return command;
    }

    /// <summary>
    /// The project's top-level entries copied as they are (cp -a: symbolic links, modes, times), without .git, and
    /// without node_modules unless it is what gets packed. find hands the names to cp as their bytes: a name that is
    /// not UTF-8 would not survive a trip through .NET strings and a process's argument list.
    /// </summary>
    private static void CopyProject(string from, string to, bool withNodeModules, CancellationToken cancel)
    {
        string find = ToolProcess.Find("find") ?? "/usr/bin/find";
        string cp = ToolProcess.Find("cp") ?? "/bin/cp";
        // The full path: a relative PROJECT_DIR that starts with '-' would be read as one of find's options.
        string[] args = [Path.GetFullPath(from), "-mindepth", "1", "-maxdepth", "1", "!", "-name", ".git",
            .. withNodeModules ? Array.Empty<string>() : ["!", "-name", "node_modules"], "-exec", cp, "-a", "-t", to, "--", "{}", "+"];
        var result = ToolProcess.Run(find, args, null, cancel);
        if (!result.Succeeded)
            throw new FrontEndException(from, "copying the project failed: " + (result.Lines.FirstOrDefault() ?? $"find/cp exit {result.ExitCode}"));
    }

    /// <summary>At most this many links are named one by one; the rest are counted.</summary>
    private const int LinkWarningsShown = 5;

    /// <summary>
    /// The symbolic links in app/ (find prints each link and its target NUL-separated), judged on the target's text as
    /// the kernel resolves it from the link's folder. One under node_modules that leaves the image or names nothing in
    /// it is refused (exit 2): that is how npm installs a file: dependency (and npm link a package), a link to the
    /// package's folder rather than a copy, so the package's code is not in the image and the app fails to load it (a
    /// folder outside the project: npm ci in the staging copy resolves the lock file's ../lib to nothing) or loads
    /// whatever is at that path where it runs. Any other link that leaves the image gets one warning line (up to
    /// <see cref="LinkWarningsShown"/>, then a count; none when quiet): it is the project's own, which may mean it.
    /// </summary>
    private static void CheckLinks(string image, bool quiet, CancellationToken cancel)
    {
        string find = ToolProcess.Find("find") ?? "/usr/bin/find";
        var result = ToolProcess.Run(find, ["app", "-type", "l", "-printf", "%p\\0%l\\0"], image, cancel);
        if (!result.Succeeded)
            return; // the pack itself reports a tree it cannot read
        string[] fields = result.StandardOutput.Split('\0');
        var leaving = new List<string>();
        var broken = new List<(string Link, string Target, bool Leaves)>();
        for (int i = 0; i + 1 < fields.Length; i += 2)
        {
            string link = fields[i], target = fields[i + 1];
            bool leaves = LeavesTheImage(link, target);
            if (link.Contains("/node_modules/", StringComparison.Ordinal) && (leaves || !TargetExists(Path.Combine(image, link))))
                broken.Add((link, target, leaves));
            else if (leaves)
                leaving.Add($"{link} -> {target}");
        }
        // The same line whatever order find walks in.
        if (broken.OrderBy(b => b.Link, StringComparer.Ordinal).FirstOrDefault() is { Link: not null } first)
            throw new UsageException($"{first.Link} -> {first.Target}: a package installed as a link to {(first.Leaves ? "a folder outside the image" : "nothing in the image")} (npm links a file: dependency's folder instead of copying it), so its code would not be packed; depend on a tarball of it (npm pack) or on a folder inside the project");
        if (quiet)
            return;
        leaving.Sort(StringComparer.Ordinal);
        foreach (string link in leaving.Take(LinkWarningsShown))
            Console.Error.WriteLine($"xar: warning: {link}: a symbolic link that leaves the image (packed as it is, it points at whatever is there where the file runs)");
        if (leaving.Count > LinkWarningsShown)
            Console.Error.WriteLine($"xar: warning: {leaving.Count - LinkWarningsShown} more symbolic links leave the image");
    }

    /// <summary>Whether the link names something, followed to the end (Path.Exists says true for a dangling link itself).</summary>
    private static bool TargetExists(string link)
    {
        try
        {
            return File.ResolveLinkTarget(link, returnFinalTarget: true) is { } target && Path.Exists(target.FullName);
        }
        catch (IOException)
        {
            return false; // a loop of links
        }
    }

    private static bool LeavesTheImage(string link, string target)
    {
        if (target.StartsWith('/'))
            return true;
        int depth = link.Count(c => c == '/'); // folders above the link, up to the image root
        foreach (string part in target.Split('/'))
        {
            if (part == "..")
                depth--;
            else if (part is not ("" or "."))
                depth++;
            if (depth < 0)
                return true;
        }
        return false;
    }

    private static void NpmCi(string app, string project, CancellationToken cancel)
    {
        string npm = ToolProcess.Find("npm") ?? throw new FrontEndException(null, "npm not found on PATH (xar node runs npm ci; or pack an installed node_modules with --no-install)");
        var result = ToolProcess.Run(npm, ["ci", "--omit=dev", "--no-audit", "--no-fund"], app, cancel,
            new Dictionary<string, string> { ["npm_config_update_notifier"] = "false" });
        if (result.Succeeded)
            return;
        // npm's "npm error code E..." lines name the code; the first line after them says what happened.
        var lines = result.Lines.Where(l => l.StartsWith("npm error ", StringComparison.Ordinal) || l.StartsWith("npm ERR! ", StringComparison.Ordinal))
            .Select(l => l[(l.IndexOf(' ', 4) + 1)..].Trim())
            .Where(l => l.Length > 0 && !l.StartsWith("code ", StringComparison.Ordinal) && !l.StartsWith("errno ", StringComparison.Ordinal)
                && !l.StartsWith("syscall ", StringComparison.Ordinal) && !l.StartsWith("path ", StringComparison.Ordinal))
            .ToList();
        throw new FrontEndException(project, "npm ci failed: " + (lines.FirstOrDefault() ?? result.Lines.LastOrDefault() ?? $"exit {result.ExitCode}"));
    }
}
