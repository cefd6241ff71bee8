using System.Text;

namespace Xar.Distribution;

/// <summary>A user name and password (or token) for one registry. Never printed: ToString says only that it exists.</summary>
public sealed class RegistryCredentials(string username, string password)
{
    public string Username { get; } = username;
    public string Password { get; } = password;

    /// <summary>The value of an <c>Authorization: Basic</c> header.</summary>
    public string BasicHeaderValue => Convert.ToBase64String(Encoding.UTF8.GetBytes(Username + ":" + Password));

    public override string ToString() => "(credentials)";
}
