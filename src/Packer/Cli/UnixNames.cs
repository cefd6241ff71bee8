namespace Xar.Packer.Cli;

/// <summary>User and group names from /etc/passwd and /etc/group, as `ls` and unsquashfs show them.</summary>
public sealed class UnixNames
{
    private readonly Dictionary<uint, string> _users;
    private readonly Dictionary<uint, string> _groups;

    private UnixNames(Dictionary<uint, string> users, Dictionary<uint, string> groups)
    {
        _users = users;
        _groups = groups;
    }

    public static UnixNames Load() => new(Read("/etc/passwd"), Read("/etc/group"));

    public string User(uint id) => _users.TryGetValue(id, out var n) ? n : id.ToString(System.Globalization.CultureInfo.InvariantCulture);

    public string Group(uint id) => _groups.TryGetValue(id, out var n) ? n : id.ToString(System.Globalization.CultureInfo.InvariantCulture);

    private static Dictionary<uint, string> Read(string path)
    {
        var map = new Dictionary<uint, string>();
        try
        {
            foreach (var line in File.ReadLines(path))
            {
                var f = line.Split(':');
                // The first entry for an id wins, as getpwuid answers.
                if (f.Length >= 3 && uint.TryParse(f[2], out uint id))
                    map.TryAdd(id, f[0]);
            }
        }
        catch (IOException) { }
        catch (UnauthorizedAccessException) { }
        return map;
    }
}
