using System.Text;
using Xar.Tests;

namespace Xar.Distribution.Tests;

public sealed class DockerConfigTests
{
    private static string Write(TempDir tmp, string json)
    {
        string path = tmp["config.json"];
        File.WriteAllText(path, json);
        return path;
    }

    [Fact]
    public void AuthEntryIsBase64UserColonPassword()
    {
        using var tmp = new TempDir("dockercfg");
        string auth = Convert.ToBase64String(Encoding.UTF8.GetBytes("alice:pa:ss"));
        string path = Write(tmp, """{"auths":{"127.0.0.1:5000":{"auth":"AUTH"}}}""".Replace("AUTH", auth));
        var c = DockerConfig.Find("127.0.0.1:5000", path)!;
        Assert.Equal("alice", c.Username);
        Assert.Equal("pa:ss", c.Password); // only the first colon separates
        Assert.DoesNotContain("pa:ss", c.ToString());
    }

    [Fact]
    public void KeysWithSchemeAndPathMatchTheHost()
    {
        using var tmp = new TempDir("dockercfg");
        string path = Write(tmp, """{"auths":{"https://reg.internal:5000/v1/":{"username":"bob","password":"pw"}}}""");
        Assert.Equal("bob", DockerConfig.Find("reg.internal:5000", path)!.Username);
        Assert.Null(DockerConfig.Find("reg.internal", path));
        Assert.Null(DockerConfig.Find("other:5000", path));
    }

    [Fact]
    public void NoFileNoCredentials()
    {
        using var tmp = new TempDir("dockercfg");
        Assert.Null(DockerConfig.Find("h", tmp["missing.json"]));
    }

    [Fact]
    public void BrokenJsonIsOneLineWithoutTheFilesText()
    {
        using var tmp = new TempDir("dockercfg");
        string path = Write(tmp, """{"auths":{"h":{"auth":"c2VjcmV0OnNlY3JldA=="}""");
        var e = Assert.Throws<RegistryException>(() => DockerConfig.Find("h", path));
        Assert.DoesNotContain("c2VjcmV0", e.Message);
        Assert.Contains("not valid JSON", e.Message);
    }
}
