using Xar.Runtime;

namespace Xar.Runtime.Tests;

/// <summary>The durations `xar gc --idle` and `--older-than` take.</summary>
public class XarGarbageCollectorTests
{
    [Theory]
    [InlineData("90s", 90)]
    [InlineData("15m", 900)]
    [InlineData("2h", 7200)]
    [InlineData("30d", 2592000)]
    [InlineData("1w", 604800)]
    [InlineData("45", 45)]
    [InlineData("0s", 0)]
    [InlineData("1.5h", 5400)]
    public void DurationsParse(string text, int seconds)
    {
        Assert.True(XarGarbageCollector.TryParseDuration(text, out var d));
        Assert.Equal(seconds, d.TotalSeconds);
    }

    [Theory]
    [InlineData("")]
    [InlineData("soon")]
    [InlineData("5x")]
    [InlineData("-5m")]
    [InlineData("m")]
    [InlineData("1e400d")]
    public void BadDurationsAreRejected(string text) => Assert.False(XarGarbageCollector.TryParseDuration(text, out _));
}
