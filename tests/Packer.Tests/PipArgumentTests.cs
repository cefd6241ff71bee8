using Xar.Packer.Cli;
using Xar.Packer.Python;

namespace Xar.Packer.Tests;

/// <summary>
/// `xar python`'s refusal of pip options that say where to install, as pip's optparse reads them: any unique prefix
/// of a long option (an exact name wins), short flags grouped, and a short option's value glued to it.
/// </summary>
public sealed class PipArgumentTests
{
    [Theory]
    [InlineData("--target")]
    [InlineData("--ta")]
    [InlineData("--targ=/tmp/x")]
    [InlineData("--prefi")]
    [InlineData("--roo")]
    [InlineData("--user")]
    [InlineData("--us")]
    [InlineData("--ed")]
    [InlineData("-t")]
    [InlineData("-t/tmp/x")]
    [InlineData("-Ut")]
    [InlineData("-qqe")]
    [InlineData("-e")]
    public void WhereToInstallIsRefusedHoweverItIsSpelled(string option)
    {
        var e = Assert.Throws<UsageException>(() => PipInstall.CheckArguments(["wordcount", option, "/tmp/x"]));
        Assert.Contains("is xar's to decide", e.Message);
    }

    [Theory]
    [InlineData("--pre")] // pip's own --pre, not an abbreviation of --prefix
    [InlineData("--root-user-action=ignore")]
    [InlineData("--no-index")]
    [InlineData("-Ur")] // -U, then -r whose value follows
    [InlineData("-rtools.txt")] // -r tools.txt
    [InlineData("-f/tmp/wheels/tt")]
    [InlineData("-q")]
    [InlineData("-")]
    [InlineData("--")]
    public void OtherOptionsPass(string option) => PipInstall.CheckArguments(["wordcount", option]);
}
