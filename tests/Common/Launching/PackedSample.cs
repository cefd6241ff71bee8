namespace Xar.Tests;

/// <summary>
/// A sample of samples/ packed by one of xar's front ends once for a test class (the class fixture), into a temporary
/// folder removed with it. Without the tools it needs nothing is packed, and each test says what is missing (<see cref="Require"/>).
/// </summary>
public abstract class PackedSample : IDisposable
{
    private readonly TempDir _temp;
    private readonly string _frontEnd;
    private readonly string _project;
    private readonly int _timeoutMs;
    private readonly string[] _tools;

    /// <param name="frontEnd">The xar command: "node", "dotnet".</param>
    /// <param name="sample">The folder in samples/.</param>
    /// <param name="timeoutMs">How long one pack may take.</param>
    /// <param name="tools">The programs packing and running need.</param>
    protected PackedSample(string frontEnd, string sample, int timeoutMs, params string[] tools)
    {
        _temp = new(frontEnd + "-sample-");
        _frontEnd = frontEnd;
        _project = Path.Combine(TestEnv.RepoRoot, "samples", sample);
        _timeoutMs = timeoutMs;
        _tools = tools;
    }

    /// <summary>Whether every tool is on PATH.</summary>
    protected bool CanPack => _tools.All(tool => TestEnv.FindTool(tool) is not null);

    /// <summary>Skips the test (fails it when CI=true) unless every tool is on PATH.</summary>
    public void Require()
    {
        foreach (string tool in _tools)
            TestEnv.RequireTool(tool);
    }

    /// <summary>`xar FRONTEND samples/SAMPLE -o NAME --quiet OPTIONS`, checked: the packed file.</summary>
    protected string Pack(string name, params string[] options) => PackUnderUmask(null, name, options);

    /// <summary><see cref="Pack"/> with this umask (null: the test's own), as a user who set it runs xar.</summary>
    protected string PackUnderUmask(string? umask, string name, params string[] options)
    {
        string output = _temp[name];
        string[] xar = [XarBinary.Path, _frontEnd, _project, "-o", output, "--quiet", .. options];
        var run = umask is null ? new RunOptions(xar[0], xar[1..]) : new RunOptions("sh", ["-c", $"umask {umask} && exec \"$@\"", "sh", .. xar]);
        TestEnv.Run(run with { TimeoutMs = _timeoutMs }).EnsureSuccess($"xar {_frontEnd} " + string.Join(' ', options) + (umask is null ? "" : $" (umask {umask})"));
        return output;
    }

    public void Dispose()
    {
        _temp.Dispose();
        GC.SuppressFinalize(this);
    }
}
