namespace Xar.Packer.Tests;

/// <summary>
/// The tests of `xar run`, `mount`, `unmount` and `gc`: they mount and run programs, and run one at a
/// time, as they did when they were one class in Launcher.Tests (beside the other test classes, as then).
/// </summary>
[CollectionDefinition(Name)]
public sealed class SandboxedXarCollection
{
    public const string Name = "sandboxed-xar";
}
