namespace Xar.Distribution;

/// <summary>
/// The media types and annotation keys of a XAR in a registry. The manifest is an OCI image manifest whose
/// <c>artifactType</c> says "a XAR artifact"; its config is the spec's empty descriptor (the two bytes <c>{}</c>);
/// its one layer is the file, typed by what it holds.
/// </summary>
public static class XarMediaTypes
{
    public const string Manifest = "application/vnd.oci.image.manifest.v1+json";
    public const string ArtifactType = "application/vnd.xar.v1";
    /// <summary>The empty config of image spec 1.1, its digest and size (the digest of <c>{}</c>).</summary>
    public const string EmptyConfig = "application/vnd.oci.empty.v1+json";
    public const string EmptyConfigDigest = "sha256:44136fa355b3678a1146ad16f7e8649e94fb4fc21fe77e8310c060f61caaff8a";
    public static ReadOnlySpan<byte> EmptyConfigBytes => "{}"u8;

    /// <summary>Layer: a XAR file (shell-script header, then a SquashFS image).</summary>
    public const string XarLayer = "application/vnd.xar.layer.v1.xar";
    /// <summary>Layer: a self-contained executable (xarexec with a XAR appended).</summary>
    public const string SelfContainedLayer = "application/vnd.xar.layer.v1.self-contained";
    /// <summary>Layer: a bare SquashFS image.</summary>
    public const string SquashFsLayer = "application/vnd.xar.layer.v1.squashfs";

    public static bool IsXarLayer(string mediaType) => mediaType is XarLayer or SelfContainedLayer or SquashFsLayer;

    public const string TitleAnnotation = "org.opencontainers.image.title";
    public const string UuidAnnotation = "xar.uuid";
    public const string VersionAnnotation = "xar.version";
    public const string ExecTargetAnnotation = "xar.xarexec_target";
}
