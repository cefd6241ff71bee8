using System.Text;
using System.Text.Json;

namespace Xar.Distribution;

/// <summary>
/// Credentials as the container tools keep them: <c>$DOCKER_CONFIG/config.json</c>, else
/// <c>~/.docker/config.json</c>, its <c>auths</c> object keyed by registry (<c>host[:port]</c>, with or without a
/// scheme and path, as docker login writes them), each entry with <c>auth</c> (base64 of user:password) or
/// <c>username</c> and <c>password</c>. Credential helpers (<c>credsStore</c>, <c>credHelpers</c>) are not run.
/// </summary>
public static class DockerConfig
{
    /// <summary>The config file to read, or null when neither variable gives a place.</summary>
    public static string? FilePath()
    {
        string? dir = Environment.GetEnvironmentVariable("DOCKER_CONFIG");
        if (!string.IsNullOrEmpty(dir))
            return Path.Combine(dir, "config.json");
        string? home = Environment.GetEnvironmentVariable("HOME");
        return string.IsNullOrEmpty(home) ? null : Path.Combine(home, ".docker", "config.json");
    }

    /// <summary>The credentials for <paramref name="registry"/> (host[:port]), or null when none are stored.</summary>
    /// <exception cref="RegistryException">The file exists but cannot be read or is not valid JSON (the message names the file only).</exception>
    public static RegistryCredentials? Find(string registry, string? configPath = null)
    {
        configPath ??= FilePath();
        if (configPath is null || !File.Exists(configPath))
            return null;
        byte[] json;
        try
        {
            json = File.ReadAllBytes(configPath);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new RegistryException($"{configPath}: cannot read: {e.Message}");
        }
        try
        {
            using var doc = JsonDocument.Parse(json);
            if (doc.RootElement.ValueKind != JsonValueKind.Object || !doc.RootElement.TryGetProperty("auths", out var auths) || auths.ValueKind != JsonValueKind.Object)
                return null;
            foreach (var entry in auths.EnumerateObject())
            {
                if (!string.Equals(KeyRegistry(entry.Name), registry, StringComparison.OrdinalIgnoreCase) || entry.Value.ValueKind != JsonValueKind.Object)
                    continue;
                if (entry.Value.TryGetProperty("auth", out var auth) && auth.ValueKind == JsonValueKind.String && auth.GetString() is { Length: > 0 } encoded)
                {
                    string pair;
                    try
                    {
                        pair = Encoding.UTF8.GetString(Convert.FromBase64String(encoded));
                    }
                    catch (FormatException)
                    {
                        throw new RegistryException($"{configPath}: the auth entry for {registry} is not base64");
                    }
                    int colon = pair.IndexOf(':');
                    if (colon < 0)
                        throw new RegistryException($"{configPath}: the auth entry for {registry} is not user:password");
                    return new RegistryCredentials(pair[..colon], pair[(colon + 1)..]);
                }
                if (entry.Value.TryGetProperty("username", out var user) && user.ValueKind == JsonValueKind.String &&
                    entry.Value.TryGetProperty("password", out var password) && password.ValueKind == JsonValueKind.String)
                    return new RegistryCredentials(user.GetString()!, password.GetString()!);
            }
            return null;
        }
        catch (JsonException)
        {
            // The parser's message may quote the file's text, credentials included: say only where.
            throw new RegistryException($"{configPath}: not valid JSON");
        }
    }

    /// <summary>An <c>auths</c> key reduced to host[:port]: "https://reg.example:5000/v1/" becomes "reg.example:5000".</summary>
    internal static string KeyRegistry(string key)
    {
        int scheme = key.IndexOf("://", StringComparison.Ordinal);
        if (scheme >= 0)
            key = key[(scheme + 3)..];
        int slash = key.IndexOf('/');
        return slash >= 0 ? key[..slash] : key;
    }
}
