namespace Xar.Tests;

/// <summary>The modes a packed file's image holds, as <c>xar ls -l</c> shows them.</summary>
public static class ImageModes
{
    /// <summary>
    /// The `xar ls -l` lines of entries that some user could not use through the mount: a directory or file not
    /// readable by all, a directory not searchable by all, a file with an execute bit but not executable by all
    /// (what a+rX gives). Links have no mode of their own and are left out.
    /// </summary>
    public static IReadOnlyList<string> NotOpenToEveryUser(string xar)
    {
        var lines = TestEnv.Run(XarBinary.Path, "ls", "-l", xar).EnsureSuccess("xar ls -l").StandardOutput
            .Split('\n', StringSplitOptions.RemoveEmptyEntries);
        Assert.NotEmpty(lines);
        return [.. lines.Where(line =>
        {
            string mode = line[..10];
            bool executable = mode[3] is 'x' or 's' || mode[6] is 'x' or 's' || mode[9] is 'x' or 't';
            return mode[0] switch
            {
                'l' => false,
                'd' => mode[1] != 'r' || mode[4] != 'r' || mode[7] != 'r' || mode[3] is not ('x' or 's') || mode[6] is not ('x' or 's') || mode[9] is not ('x' or 't'),
                _ => mode[1] != 'r' || mode[4] != 'r' || mode[7] != 'r' || (executable && (mode[3] is not ('x' or 's') || mode[6] is not ('x' or 's') || mode[9] is not ('x' or 't'))),
            };
        })];
    }
}
