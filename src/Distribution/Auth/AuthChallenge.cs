namespace Xar.Distribution;

/// <summary>
/// A <c>WWW-Authenticate</c> challenge: <c>Basic realm="..."</c> or
/// <c>Bearer realm="...",service="...",scope="..."</c> (RFC 7235 auth-params, quoted or not).
/// </summary>
public sealed record AuthChallenge(string Scheme, IReadOnlyDictionary<string, string> Parameters)
{
    public bool IsBearer => Scheme.Equals("Bearer", StringComparison.OrdinalIgnoreCase);
    public bool IsBasic => Scheme.Equals("Basic", StringComparison.OrdinalIgnoreCase);

    public string? this[string name] => Parameters.TryGetValue(name, out var v) ? v : null;

    /// <summary>Parses one header value; null when it has no scheme.</summary>
    public static AuthChallenge? Parse(string header)
    {
        header = header.Trim();
        int space = header.IndexOf(' ');
        string scheme = space < 0 ? header : header[..space];
        if (scheme.Length == 0)
            return null;
        var parameters = new Dictionary<string, string>(StringComparer.OrdinalIgnoreCase);
        int i = space < 0 ? header.Length : space + 1;
        while (i < header.Length)
        {
            while (i < header.Length && (header[i] == ' ' || header[i] == ','))
                i++;
            int eq = header.IndexOf('=', i);
            if (eq < 0)
                break;
            string name = header[i..eq].Trim();
            i = eq + 1;
            var value = new System.Text.StringBuilder();
            if (i < header.Length && header[i] == '"')
            {
                i++;
                while (i < header.Length && header[i] != '"')
                {
                    if (header[i] == '\\' && i + 1 < header.Length)
                        i++;
                    value.Append(header[i++]);
                }
                i++; // the closing quote
            }
            else
            {
                while (i < header.Length && header[i] != ',')
                    value.Append(header[i++]);
            }
            if (name.Length > 0)
                parameters[name] = value.ToString().Trim();
        }
        return new AuthChallenge(scheme, parameters);
    }
}
