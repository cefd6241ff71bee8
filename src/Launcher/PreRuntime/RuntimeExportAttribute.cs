namespace System.Runtime;

/// <summary>
/// Exports a static method under a native symbol name, called with the platform's C convention and no
/// runtime transition. The NativeAOT compiler honours this attribute by its full name in any assembly;
/// the launcher uses it for <see cref="Xar.Launcher.PreRuntime.FastStart"/>, which runs before the runtime exists.
/// </summary>
[AttributeUsage(AttributeTargets.Method, Inherited = false)]
internal sealed class RuntimeExportAttribute(string entry) : Attribute
{
    public string Entry { get; } = entry;
}
