using System.Text;

namespace Xar.Tests;

/// <summary>
/// A shell script run in a mount namespace of the test's own (unshare -m, private propagation) where installed
/// programs and directories are covered (/dev/null bound over a program, an empty directory over a directory), so
/// the script sees a machine without them while nothing outside the namespace changes. Each cover that fails stops
/// the script (exit 1); at its end the mounts the script made under the sandbox's mount root are unmounted.
/// The script gets $ROOT (the sandbox's mount root) and, when directories are covered, $EMPTY.
/// </summary>
public sealed class HiddenTools(LauncherSandbox sandbox)
{
    /// <summary>Where a tool may be installed.</summary>
    public static readonly IReadOnlyList<string> ProgramDirectories = ["/usr/bin", "/bin", "/usr/local/bin", "/usr/sbin", "/sbin"];

    private readonly StringBuilder _covers = new();
    private bool _directories;

    /// <summary>Each of <paramref name="names"/> in each of <see cref="ProgramDirectories"/> (a directory that is a link is covered where it leads).</summary>
    public HiddenTools Programs(params string[] names)
    {
        foreach (string name in names)
            _covers.Append($"for dir in {string.Join(' ', ProgramDirectories)}; do\n")
                .Append($"    if [ -e \"$dir/{name}\" ] && [ ! -L \"$dir\" ]; then mount --bind /dev/null \"$dir/{name}\" || exit 1; fi\n")
                .Append("done\n");
        return this;
    }

    /// <summary>What PATH finds for each of <paramref name="names"/> (where a program is installed anywhere else).</summary>
    public HiddenTools FoundOnPath(params string[] names)
    {
        _covers.Append($"for tool in {string.Join(' ', names)}; do\n")
            .Append("    if found=$(command -v $tool); then mount --bind /dev/null \"$found\" || exit 1; fi\n")
            .Append("done\n");
        return this;
    }

    /// <summary>Each existing directory of <paramref name="paths"/>, covered by an empty one.</summary>
    public HiddenTools Directories(params string[] paths)
    {
        _directories = true;
        _covers.Append($"for dir in {string.Join(' ', paths)}; do\n")
            .Append("    if [ -d \"$dir\" ]; then mount --bind \"$EMPTY\" \"$dir\" || exit 1; fi\n")
            .Append("done\n");
        return this;
    }

    /// <summary>Runs <paramref name="script"/> with /bin/sh after the covers, with <paramref name="environment"/> (plus $ROOT and $EMPTY).</summary>
    public ProcessResult Run(string script, Dictionary<string, string?> environment, string? workingDirectory = null, int timeoutMs = 300_000)
    {
        TestEnv.RequireTool("unshare");
        environment["ROOT"] = sandbox.MountRoot;
        if (_directories)
        {
            string empty = sandbox["empty"];
            Directory.CreateDirectory(empty);
            environment["EMPTY"] = empty;
        }
        string whole = _covers + script.TrimEnd('\n') + "\n" +
            "for m in $(grep \" $ROOT/\" /proc/self/mounts | cut -d' ' -f2); do umount -l \"$m\"; done\n";
        return TestEnv.Run(new RunOptions("unshare", ["-m", "--propagation", "private", "/bin/sh", "-c", whole])
        {
            Environment = environment,
            WorkingDirectory = workingDirectory,
            TimeoutMs = timeoutMs,
        });
    }
}
