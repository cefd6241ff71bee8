using System.CommandLine;
using Xar.Distribution;
using Xar.Packer.Cli;

namespace Xar.Packer.Commands;

/// <summary>`xar pull REGISTRY/REPOSITORY(:TAG|@DIGEST) -o FILE`: a pushed file back, checked, through the blob cache.</summary>
public static class PullCommand
{
    public static Command Create()
    {
        var source = new Argument<string>("REFERENCE") { Description = "REGISTRY/REPOSITORY[:TAG] or REGISTRY/REPOSITORY@sha256:HEX" };
        var output = new Option<string>("--output", "-o") { HelpName = "FILE", Description = "the file to write (atomically, mode 0755)", Required = true };
        var plainHttp = RegistryCommand.PlainHttpOption();
        var verbose = RegistryCommand.VerboseOption();
        var command = new Command("pull", "Pull a file pushed with `xar push`: check every digest, keep a copy in the cache, write it atomically.")
        {
            source, output, plainHttp, verbose,
        };
        command.SetAction(parse =>
        {
            string text = parse.GetValue(source)!;
            string path = RawOptionValues.Path(output, parse.GetValue(output)!); // by its bytes: a name need not be UTF-8
            return RegistryCommand.Run(text, null, () =>
            {
                var reference = RegistryCommand.ParseReference(text);
                var options = RegistryCommand.ClientOptions(reference, parse.GetValue(plainHttp), parse.GetValue(verbose));
                using var progress = new TransferProgress(draw: !Console.IsErrorRedirected, "pull");
                var result = XarPull.PullAsync(reference, path, options, progress.Report, CancellationToken.None).GetAwaiter().GetResult();
                progress.Dispose();
                if (parse.GetValue(verbose))
                    Console.Error.WriteLine($"xar: blob {result.BlobDigest} ({result.Size} bytes): {(result.FromCache ? "from the cache" : result.ResumedFrom > 0 ? $"downloaded, resumed at byte {result.ResumedFrom}" : "downloaded")}");
                return ExitCodes.Success;
            });
        });
        return command;
    }
}
