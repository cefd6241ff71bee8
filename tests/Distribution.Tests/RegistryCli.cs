using System.Security.Cryptography;
using System.Text;
using Xar.Tests;

namespace Xar.Distribution.Tests;

/// <summary>
/// Runs `xar` with its own cache directory and docker config (in a temporary folder), and makes XAR files to push.
/// </summary>
public sealed class RegistryCli : IDisposable
{
    private readonly TempDir _dir = new("oci");

    public string Cache => _dir["cache"];
    public string DockerConfigDir => _dir["docker"];
    public string this[string relative] => _dir[relative];

    public RegistryCli()
    {
        Directory.CreateDirectory(DockerConfigDir);
    }

    public void SaveCredentials(string registry, string user, string password)
    {
        string auth = Convert.ToBase64String(Encoding.UTF8.GetBytes(user + ":" + password));
        File.WriteAllText(Path.Combine(DockerConfigDir, "config.json"), """{"auths":{"REGISTRY":{"auth":"AUTH"}}}""".Replace("REGISTRY", registry).Replace("AUTH", auth));
    }

    /// <summary>More variables for the next runs.</summary>
    public Dictionary<string, string?> ExtraEnvironment { get; } = new();

    public Dictionary<string, string?> Environment => new(ExtraEnvironment)
    {
        ["XAR_CACHE_DIR"] = Cache,
        ["DOCKER_CONFIG"] = DockerConfigDir,
        ["XAR_PLAIN_HTTP_REGISTRIES"] = null,
        ["XAR_PUSH_CHUNK_MIB"] = ExtraEnvironment.GetValueOrDefault("XAR_PUSH_CHUNK_MIB"),
        ["XAR_HTTP_TIMEOUT"] = ExtraEnvironment.GetValueOrDefault("XAR_HTTP_TIMEOUT"),
        // The registries of the tests are on loopback: no proxy of the machine's in between, only a test's own.
        ["HTTP_PROXY"] = Extra("HTTP_PROXY"), ["HTTPS_PROXY"] = Extra("HTTPS_PROXY"), ["http_proxy"] = Extra("http_proxy"),
        ["https_proxy"] = Extra("https_proxy"), ["ALL_PROXY"] = Extra("ALL_PROXY"), ["all_proxy"] = Extra("all_proxy"),
        ["NO_PROXY"] = Extra("NO_PROXY"), ["no_proxy"] = Extra("no_proxy"),
    };

    private string? Extra(string name) => ExtraEnvironment.GetValueOrDefault(name);

    /// <summary>How long a run may take (a hostile registry's test must end even when xar would wait forever).</summary>
    public int TimeoutMs { get; set; } = 300_000;

    public ProcessResult Run(params string[] args) =>
        TestEnv.Run(new RunOptions(XarBinary.Path, args) { Environment = Environment, WorkingDirectory = _dir.Path, TimeoutMs = TimeoutMs });

    /// <summary>A XAR of a tree holding <paramref name="size"/> random bytes (stored uncompressed) and an entrypoint.</summary>
    public string MakeXar(string name, int size, int seed = 1)
    {
        string tree = _dir["tree-" + name];
        Directory.CreateDirectory(Path.Combine(tree, "bin"));
        File.WriteAllText(Path.Combine(tree, "bin", "app"), "#!/bin/sh\necho hello from " + name + "\n");
        File.SetUnixFileMode(Path.Combine(tree, "bin", "app"), (UnixFileMode)0x1ED);
        var data = new byte[size];
        new Random(seed).NextBytes(data);
        File.WriteAllBytes(Path.Combine(tree, "data.bin"), data);
        string xar = _dir[name];
        Run("pack", tree, "-o", xar, "--exec", "bin/app", "-c", "none", "-q").EnsureSuccess("xar pack");
        return xar;
    }

    public static string Digest(string path)
    {
        using var f = File.OpenRead(path);
        return "sha256:" + Convert.ToHexStringLower(SHA256.HashData(f));
    }

    public static string DigestOf(byte[] data) => "sha256:" + Convert.ToHexStringLower(SHA256.HashData(data));

    /// <summary>How many requests of <paramref name="method"/> on blob uploads `xar -v` reported.</summary>
    public static int UploadRequests(ProcessResult r) =>
        r.StandardError.Split('\n').Count(l => l.Contains("/blobs/uploads/", StringComparison.Ordinal) && (l.StartsWith("xar: PATCH ") || l.StartsWith("xar: PUT ") || l.StartsWith("xar: POST ")));

    public static void AssertFailure(ProcessResult r, int status, string? contains = null)
    {
        Assert.True(r.ExitCode == status, $"exit {r.ExitCode}, stderr: {r.StandardError}");
        string err = r.StandardError.TrimEnd('\n');
        Assert.StartsWith("xar: ", err);
        Assert.DoesNotContain('\n', err);
        Assert.DoesNotContain("   at ", err);
        if (contains is not null)
            Assert.Contains(contains, err);
    }

    public void Dispose() => _dir.Dispose();
}
