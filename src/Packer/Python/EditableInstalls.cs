using System.Text.Json;
using Xar.Packer.Cli;

namespace Xar.Packer.Python;

/// <summary>
/// Editable installs in what pip put into the image, refused. An editable install (-e, which xar refuses on its own
/// command line, but which a requirements file, PIP_* settings or pip.conf may still ask for) puts into site-packages
/// only a pointer to the project's folder on this machine (a finder module and a .pth file, or a legacy .egg-link),
/// not the code: the file would run here, from that folder, and fail (or run whatever is there) anywhere else. Found
/// after the install, as pip records it whatever asked for it: PEP 610's direct_url.json with "dir_info": {"editable":
/// true}, and setuptools' *.egg-link.
/// </summary>
internal static class EditableInstalls
{
    /// <exception cref="UsageException">The first editable distribution, with the folder it points at.</exception>
    public static void Refuse(string siteDirectory)
    {
        if (!Directory.Exists(siteDirectory))
            return;
        foreach (string distInfo in Directory.EnumerateDirectories(siteDirectory, "*.dist-info").Order(StringComparer.Ordinal))
        {
            if (EditableUrl(Path.Combine(distInfo, "direct_url.json")) is { } url)
                throw Refusal(Path.GetFileName(distInfo)[..^".dist-info".Length], url);
        }
        foreach (string link in Directory.EnumerateFiles(siteDirectory, "*.egg-link").Order(StringComparer.Ordinal))
        {
            string target = File.ReadLines(link).FirstOrDefault()?.Trim() ?? "";
            throw Refusal(Path.GetFileName(link)[..^".egg-link".Length], target);
        }
    }

    /// <summary>The url of an editable install's direct_url.json; null when it is not one (or not readable as one).</summary>
    private static string? EditableUrl(string path)
    {
        if (!File.Exists(path))
            return null;
        try
        {
            using var document = JsonDocument.Parse(File.ReadAllBytes(path));
            var root = document.RootElement;
            if (root.ValueKind == JsonValueKind.Object
                && root.TryGetProperty("dir_info", out var dirInfo) && dirInfo.ValueKind == JsonValueKind.Object
                && dirInfo.TryGetProperty("editable", out var editable) && editable.ValueKind == JsonValueKind.True)
                return root.TryGetProperty("url", out var url) && url.ValueKind == JsonValueKind.String ? url.GetString() ?? "" : "";
        }
        catch (JsonException)
        {
        }
        return null;
    }

    private static UsageException Refusal(string distribution, string target) =>
        new($"pip installed {distribution} editable{(target.Length > 0 ? $" (a pointer to {target})" : "")}: the image would hold a link to that folder, not its code, and run only where the folder is; install it as a regular requirement (drop its -e, in a requirements file or in pip's settings)");
}
