namespace Xar.Distribution.Tests;

public sealed class PlainHttpPolicyTests
{
    [Theory]
    [InlineData("localhost")]
    [InlineData("127.0.0.1")]
    [InlineData("127.1.2.3")]
    [InlineData("::1")]
    public void LoopbackIsAllowed(string host) => Assert.True(PlainHttpPolicy.IsAllowed(host, 5000));

    [Fact]
    public void OtherHostsOnlyWhenListed()
    {
        string? saved = Environment.GetEnvironmentVariable(PlainHttpPolicy.Variable);
        try
        {
            Environment.SetEnvironmentVariable(PlainHttpPolicy.Variable, null);
            Assert.False(PlainHttpPolicy.IsAllowed("10.0.0.5", 5000));
            Environment.SetEnvironmentVariable(PlainHttpPolicy.Variable, "reg.lan:5000, 10.0.0.5");
            Assert.True(PlainHttpPolicy.IsAllowed("reg.lan", 5000));
            Assert.False(PlainHttpPolicy.IsAllowed("reg.lan", 5001));
            Assert.True(PlainHttpPolicy.IsAllowed("10.0.0.5", 443));
            Assert.False(PlainHttpPolicy.IsAllowed("10.0.0.6", 5000));
        }
        finally
        {
            Environment.SetEnvironmentVariable(PlainHttpPolicy.Variable, saved);
        }
    }
}
