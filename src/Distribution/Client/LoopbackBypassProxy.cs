using System.Net;

namespace Xar.Distribution;

/// <summary>
/// The environment's proxy (HTTP_PROXY, HTTPS_PROXY, NO_PROXY, as the runtime reads them), never used for a loopback
/// host, as Go's tools do: a loopback registry is spoken to in plain HTTP, so a proxy would see its credentials, and
/// a proxy elsewhere cannot reach this machine's loopback anyway.
/// </summary>
internal sealed class LoopbackBypassProxy(IWebProxy inner) : IWebProxy
{
    public ICredentials? Credentials
    {
        get => inner.Credentials;
        set => inner.Credentials = value;
    }

    public Uri? GetProxy(Uri destination) => IsBypassed(destination) ? null : inner.GetProxy(destination);

    public bool IsBypassed(Uri host) => PlainHttpPolicy.IsLoopback(host.IdnHost.Trim('[', ']')) || inner.IsBypassed(host);
}
