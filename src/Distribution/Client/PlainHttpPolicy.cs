using System.Net;

namespace Xar.Distribution;

/// <summary>
/// Where plain HTTP may be used (<c>--plain-http</c>, and a bearer-token realm given as http://): only a loopback
/// registry (localhost, 127.0.0.0/8, ::1), or one named in <c>XAR_PLAIN_HTTP_REGISTRIES</c> (comma-separated
/// host[:port]; a bare host allows every port). Anything else would send credentials and content in the clear to
/// the network, so it is refused unless the user named that registry.
/// </summary>
public static class PlainHttpPolicy
{
    public const string Variable = "XAR_PLAIN_HTTP_REGISTRIES";

    public static bool IsAllowed(string host, int? port)
    {
        if (IsLoopback(host))
            return true;
        string? listed = Environment.GetEnvironmentVariable(Variable);
        if (string.IsNullOrWhiteSpace(listed))
            return false;
        foreach (string item in listed.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries))
        {
            var (h, p) = SafeHostAndPort(item);
            if (h is not null && h.Equals(host, StringComparison.OrdinalIgnoreCase) && (p is null || p == port))
                return true;
        }
        return false;
    }

    public static bool IsLoopback(string host) =>
        host.Equals("localhost", StringComparison.OrdinalIgnoreCase) || (IPAddress.TryParse(host, out var ip) && IPAddress.IsLoopback(ip));

    private static (string? Host, int? Port) SafeHostAndPort(string item)
    {
        try
        {
            return ImageReference.HostAndPort(item);
        }
        catch (Exception e) when (e is FormatException or OverflowException or ArgumentOutOfRangeException)
        {
            return (null, null);
        }
    }
}
