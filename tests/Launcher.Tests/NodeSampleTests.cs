using Xar.Tests;

namespace Xar.Launcher.Tests;

/// <summary>
/// samples/node-app packed by <c>xar node</c> (once for the class): run mounted, extracted (XAR_EXTRACT=1) and
/// self-contained, with its dependency and its node_modules/.bin link working from the image; with node hidden
/// from the machine, the --bundle-node build runs and the plain one says in one line which Node.js it needs.
/// </summary>
public sealed class NodeSampleTests(NodeSampleTests.Packed packed) : IClassFixture<NodeSampleTests.Packed>
{
    public sealed class Packed : PackedSample
    {
        public Packed() : base("node", "node-app", 300_000, "node", "npm", "mksquashfs")
        {
            if (!CanPack)
                return; // each test says what is missing
            Plain = Pack("greet.xar");
            Bundled = Pack("greet-bundled.xar", "--bundle-node");
            SelfContained = Pack("greet", "--bundle-node", "--self-contained", "--runtime", LauncherBinary.Path);
            NodeVersion = TestEnv.Run("node", "--version").EnsureSuccess("node --version").StandardOutput.Trim();
        }

        public string? Plain { get; }

        public string? Bundled { get; }

        public string? SelfContained { get; }

        /// <summary>The node on PATH: "v20.20.2".</summary>
        public string NodeVersion { get; } = "";

        public string Major => NodeVersion.TrimStart('v').Split('.')[0];
    }

    private string Expected(string root, string work, params string[] args) =>
        "Hello from Node inside a XAR!\n" +
        $"app directory: {root}/app\n" +
        $"working directory: {work}\n" +
        $"node: {packed.NodeVersion} (major {packed.Major})\n" +
        "arguments:\n" + string.Concat(args.Select(a => $"  [{a}]\n"));

    [SkippableTheory]
    [InlineData(LaunchMode.Mount)]
    [InlineData(LaunchMode.ForcedExtract)]
    public void RunsWithArgumentsStdinStatusAndWorkingDirectory(LaunchMode mode)
    {
        packed.Require();
        LaunchModes.Require(mode);
        using var s = new LauncherSandbox();
        var env = LaunchModes.Environment(mode, s);
        var r = s.Run(packed.Plain!, ["one arg", "--stdin", "--semver-bin", "--exit", "5"], env, "from stdin\n"u8.ToArray());
        Assert.True(r.ExitCode == 5, $"exit {r.ExitCode}\n{r.StandardOutput}\n{r.StandardError}");
        string root = LaunchModes.ExpectedRoot(mode, s, Xar.Runtime.XarHeader.ReadFromFile(packed.Plain!).Uuid);
        Assert.Equal(
            Expected(root, s.Work, "one arg", "--stdin", "--semver-bin", "--exit", "5") +
            "stdin: [from stdin\n]\n" +
            "semver bin: 1.2.3\n",
            r.StandardOutput);
    }

    [SkippableFact]
    public void SelfContainedExecutableWithBundledNodeRuns()
    {
        packed.Require();
        LaunchModes.Require(LaunchMode.Mount);
        using var s = new LauncherSandbox();
        var r = TestEnv.Run(new RunOptions(packed.SelfContained!, ["a b", "--exit", "0"]) { Environment = s.Environment(), WorkingDirectory = s.Work });
        LaunchAssert.Succeeded(r);
        Assert.Equal(Expected(Assert.Single(s.Mounts()), s.Work, "a b", "--exit", "0"), r.StandardOutput);
    }

    /// <summary>
    /// In a mount namespace of the test's own where every node on the machine is covered by /dev/null: the bundled
    /// build runs (and so does its node_modules/.bin/semver, a #!/usr/bin/env node script, with the bundled node),
    /// and the plain build fails with one line naming the Node.js major version it was packed with.
    /// </summary>
    [SkippableFact]
    public void WithNodeHiddenTheBundledBuildRunsAndThePlainOneSaysWhatItNeeds()
    {
        packed.Require();
        LaunchModes.Require(LaunchMode.Mount);
        TestEnv.RequireTool("unshare");
        using var s = new LauncherSandbox();
        string script = """
            if command -v node >/dev/null; then echo "node still there"; exit 1; fi
            "$LAUNCHER" "$BUNDLED" hidden --semver-bin; echo "bundled: $?"
            "$LAUNCHER" "$PLAIN" hidden 2>"$WORK/plain.err"; echo "plain: $?"
            """;
        var env = s.Environment();
        env["LAUNCHER"] = LauncherBinary.Path;
        env["BUNDLED"] = packed.Bundled;
        env["PLAIN"] = packed.Plain;
        env["WORK"] = s.Work;
        var r = new HiddenTools(s).Programs("node").Run(script, env, s.Work);
        LaunchAssert.Succeeded(r);
        Assert.Contains("arguments:\n  [hidden]\n  [--semver-bin]\nsemver bin: 1.2.3\nbundled: 0\n", r.StandardOutput);
        Assert.EndsWith("plain: 127\n", r.StandardOutput);
        Assert.Equal(
            $"node-greet: needs Node.js {packed.Major} (node on PATH; it was packed with node {packed.NodeVersion}), and there is no node on PATH\n",
            File.ReadAllText(Path.Combine(s.Work, "plain.err")));
    }

    /// <summary>
    /// A native addon (a *.node shared object, here a minimal Node-API module built with gcc) loads from the mount;
    /// the project is packed as it is (--no-install, entry from "main").
    /// </summary>
    [SkippableFact]
    public void NativeAddonLoadsFromTheMount()
    {
        packed.Require();
        LaunchModes.Require(LaunchMode.Mount);
        TestEnv.RequireTool("gcc");
        using var s = new LauncherSandbox();
        string project = s["addon-app"];
        Directory.CreateDirectory(Path.Combine(project, "build"));
        File.WriteAllText(Path.Combine(project, "package.json"), """{ "name": "addon-app", "version": "1.0.0", "main": "main.js" }""");
        File.WriteAllText(Path.Combine(project, "main.js"), "const addon = require('./build/addon.node');\nconsole.log(addon.greeting + ' ' + process.argv.slice(2).join(','));\n");
        // Node-API is a C ABI that node exports; these declarations are all the module uses.
        File.WriteAllText(Path.Combine(project, "addon.c"), """
            #include <stddef.h>
            #include <stdint.h>
            typedef struct napi_env__ *napi_env;
            typedef struct napi_value__ *napi_value;
            typedef int napi_status;
            extern napi_status napi_create_string_utf8(napi_env env, const char *str, size_t length, napi_value *result);
            extern napi_status napi_set_named_property(napi_env env, napi_value object, const char *name, napi_value value);
            __attribute__((visibility("default"))) napi_value napi_register_module_v1(napi_env env, napi_value exports)
            {
                napi_value text;
                napi_create_string_utf8(env, "native hello", SIZE_MAX, &text);
                napi_set_named_property(env, exports, "greeting", text);
                return exports;
            }
            """);
        TestEnv.Run("gcc", "-shared", "-fPIC", "-o", Path.Combine(project, "build", "addon.node"), Path.Combine(project, "addon.c")).EnsureSuccess("gcc");
        string xar = s["addon.xar"];
        TestEnv.Run(XarBinary.Path, "node", project, "-o", xar, "--no-install", "--quiet").EnsureSuccess("xar node --no-install");
        var r = s.Run(xar, ["x", "y"]);
        LaunchAssert.Succeeded(r);
        Assert.Equal("native hello x,y\n", r.StandardOutput);
        Assert.Single(s.Mounts());
    }
}
