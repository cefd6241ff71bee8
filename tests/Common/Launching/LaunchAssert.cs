namespace Xar.Tests;

internal static class LaunchAssert
{
    /// <summary>The launcher's own failure: exit 127 and exactly one line <c>xarexec: FILE: cause</c>; returns the cause.</summary>
    public static string OneLineFailure(ProcessResult r, string file)
    {
        Assert.True(r.ExitCode == 127, $"expected exit 127, got {r.ExitCode}\nstdout: {r.StandardOutput}\nstderr: {r.StandardError}");
        string prefix = $"xarexec: {file}: ";
        Assert.StartsWith(prefix, r.StandardError);
        Assert.EndsWith("\n", r.StandardError);
        Assert.Equal(1, r.StandardError.Count(c => c == '\n'));
        return r.StandardError[prefix.Length..^1];
    }

    public static void Succeeded(ProcessResult r)
    {
        if (r.ExitCode != 0)
            throw new Xunit.Sdk.XunitException($"exit {r.ExitCode}\nstdout: {r.StandardOutput}\nstderr: {r.StandardError}");
    }
}
