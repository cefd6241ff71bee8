namespace Xar.Packer.Python;

/// <summary>pip, or the interpreter working for it at pack time, failed (exit 1, with its own words).</summary>
public sealed class PipFailedException(string message) : Exception(message);
