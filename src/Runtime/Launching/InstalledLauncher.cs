namespace Xar.Runtime.Launching;

/// <summary>
/// The xarexec installed with a program of this toolkit: beside it, or in the bin/ of its install prefix
/// (PREFIX/lib/xar/xar/xar and out/xar/xar are the xar executable's homes, PREFIX/bin and out/bin xarexec's).
/// </summary>
public static class InstalledLauncher
{
    /// <summary>The absolute path of that xarexec, an executable regular file, or null.</summary>
    public static string? Find(string? programPath)
    {
        if (programPath is null || Path.GetDirectoryName(Path.GetFullPath(programPath)) is not { } dir)
            return null;
        foreach (string relative in (ReadOnlySpan<string>)["xarexec", "../bin/xarexec", "../../../bin/xarexec"])
        {
            string candidate = Path.GetFullPath(Path.Combine(dir, relative));
            if (PosixPath.TryStat(candidate) is { IsRegularFile: true } && Xar.Posix.LibC.Access(candidate, 1 /* X_OK */) == 0)
                return candidate;
        }
        return null;
    }
}
