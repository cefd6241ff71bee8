using System.Text.RegularExpressions;

namespace Xar.Distribution;

/// <summary>
/// <c>REGISTRY/REPOSITORY[:TAG][@sha256:HEX]</c>. The registry is always named (no implicit default registry):
/// the first component is the host, with an optional port. Repository and tag follow the distribution spec's
/// grammar; a digest must be sha256 (the only algorithm registries are required to support).
/// </summary>
public sealed partial record ImageReference(string Registry, string Repository, string? Tag, string? Digest)
{
    public const string DefaultTag = "latest";

    /// <summary>The host without the port (brackets of an IPv6 literal removed).</summary>
    public string Host => HostAndPort(Registry).Host;

    /// <summary>The tag or digest the manifest is addressed by (a digest wins).</summary>
    public string ManifestReference => Digest ?? Tag ?? DefaultTag;

    public override string ToString() =>
        Registry + "/" + Repository + (Tag is null ? "" : ":" + Tag) + (Digest is null ? "" : "@" + Digest);

    /// <summary>Parses <paramref name="text"/>; a RegistryException (bad input) says what is wrong.</summary>
    public static ImageReference Parse(string text)
    {
        string rest = text;
        string? digest = null;
        int at = rest.IndexOf('@');
        if (at >= 0)
        {
            digest = rest[(at + 1)..];
            rest = rest[..at];
            if (!Sha256Digest.IsValid(digest))
                throw new RegistryException($"{digest}: not a digest (only sha256:<64 lowercase hex digits>)", badInput: true);
        }
        int slash = rest.IndexOf('/');
        if (slash <= 0)
            throw new RegistryException("no registry: write REGISTRY/REPOSITORY[:TAG] (for example 127.0.0.1:5000/apps/tool:1.0)", badInput: true);
        string registry = rest[..slash];
        string path = rest[(slash + 1)..];
        if (!IsRegistry(registry))
            throw new RegistryException($"{registry}: not a registry host[:port]", badInput: true);
        string? tag = null;
        int colon = path.LastIndexOf(':');
        if (colon >= 0)
        {
            tag = path[(colon + 1)..];
            path = path[..colon];
            if (!TagPattern().IsMatch(tag))
                throw new RegistryException($"{tag}: not a tag (letters, digits, '_', '.', '-', up to 128, not starting with '.' or '-')", badInput: true);
        }
        if (path.Length == 0 || path.Length > 255 || !RepositoryPattern().IsMatch(path))
            throw new RegistryException($"{(path.Length == 0 ? "(empty)" : path)}: not a repository name (lowercase letters and digits, separated by '.', '_', '__', '-' or '/')", badInput: true);
        return new ImageReference(registry, path, tag, digest);
    }

    internal static (string Host, int? Port) HostAndPort(string registry)
    {
        if (registry.StartsWith('['))
        {
            int close = registry.IndexOf(']');
            string host = registry[1..close];
            return (host, close + 1 < registry.Length ? int.Parse(registry[(close + 2)..], System.Globalization.CultureInfo.InvariantCulture) : null);
        }
        int colon = registry.LastIndexOf(':');
        return colon < 0 ? (registry, null) : (registry[..colon], int.Parse(registry[(colon + 1)..], System.Globalization.CultureInfo.InvariantCulture));
    }

    private static bool IsRegistry(string registry)
    {
        if (!RegistryPattern().IsMatch(registry))
            return false;
        var (host, port) = HostAndPort(registry);
        if (port is < 1 or > 65535)
            return false;
        return registry.StartsWith('[') ? System.Net.IPAddress.TryParse(host, out var ip) && ip.AddressFamily == System.Net.Sockets.AddressFamily.InterNetworkV6 : host.Length > 0;
    }

    [GeneratedRegex(@"^(\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9]([A-Za-z0-9-]*[A-Za-z0-9])?(\.[A-Za-z0-9]([A-Za-z0-9-]*[A-Za-z0-9])?)*)(:[0-9]{1,5})?$")]
    private static partial Regex RegistryPattern();

    [GeneratedRegex(@"^[a-z0-9]+((\.|_|__|-+)[a-z0-9]+)*(/[a-z0-9]+((\.|_|__|-+)[a-z0-9]+)*)*$")]
    private static partial Regex RepositoryPattern();

    [GeneratedRegex(@"^[a-zA-Z0-9_][a-zA-Z0-9._-]{0,127}$")]
    private static partial Regex TagPattern();
}
