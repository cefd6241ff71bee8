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

    /// <summary>Receives what the user should see even without <see cref="Log"/>: a pull waiting for another one.</summary>
    public Action<string>? Notice { get; init; }

    /// <summary>
    /// Files larger than this are uploaded in PATCH requests of this size; smaller ones in one PUT. 128 MiB: docker-registry
    /// 2.8 took 25-40% longer for a 256 MiB blob in 32 MiB requests than in one, and as long in 128 MiB ones
    /// (bench/RESULTS.md, "OCI push and pull"); a registry behind a proxy that limits request sizes needs less.
    /// </summary>
    public long ChunkSize { get; init; } = DefaultChunkSize;

    public const long DefaultChunkSize = 128L << 20;

    /// <summary>The variable that sets <see cref="ChunkSize"/>, in MiB (1 to 4096).</summary>
    public const string ChunkVariable = "XAR_PUSH_CHUNK_MIB";

    /// <summary>
    /// How long a request may wait for the registry's next bytes (or for it to take ours) before it fails: per read
    /// and write, not per request, so a big file may take as long as it needs while a stalled registry does not hang
    /// xar. <see cref="Timeout.InfiniteTimeSpan"/> waits forever.
    /// </summary>
    public TimeSpan IdleTimeout { get; init; } = DefaultIdleTimeout;

    public static readonly TimeSpan DefaultIdleTimeout = TimeSpan.FromSeconds(60);

    /// <summary>The variable that sets <see cref="IdleTimeout"/>, in seconds (1 to 86400; 0 for none).</summary>
    public const string TimeoutVariable = "XAR_HTTP_TIMEOUT";
}
