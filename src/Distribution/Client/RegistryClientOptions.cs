namespace Xar.Distribution;

/// <summary>How to talk to a registry.</summary>
public sealed class RegistryClientOptions
{
    /// <summary>http:// instead of https:// (allowed by <see cref="PlainHttpPolicy"/> only).</summary>
    public bool PlainHttp { get; init; }

    /// <summary>Credentials for the registry (docker's config.json), or null for none.</summary>
    public RegistryCredentials? Credentials { get; init; }

    /// <summary>Receives one line per HTTP exchange ("PATCH /v2/.../blobs/uploads/... 202"); never headers.</summary>
    public Action<string>? Log { get; init; }

    /// <summary>Files larger than this are uploaded in PATCH requests of this size; smaller ones in one PUT.</summary>
    public long ChunkSize { get; init; } = 32L << 20;
}
