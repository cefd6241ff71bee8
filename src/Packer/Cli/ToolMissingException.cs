namespace Xar.Packer.Cli;

/// <summary>A tool a front-end needs is not installed, or lacks a part (exit 1: the machine's failure, not the input's).</summary>
public sealed class ToolMissingException(string message) : Exception(message);
