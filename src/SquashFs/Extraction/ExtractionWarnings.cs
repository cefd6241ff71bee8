namespace Xar.SquashFs.Extraction;

/// <summary>
/// The caller's warning callback, told each kind of problem once: a tree full of device nodes
/// extracted without root gives one line, not thousands. Called from any thread.
/// </summary>
internal sealed class ExtractionWarnings(Action<string>? warning)
{
    private readonly HashSet<string> _warned = [];

    public void Warn(string kind, string message)
    {
        if (warning is null)
            return;
        lock (_warned)
            if (!_warned.Add(kind))
                return;
        warning(message);
    }
}
