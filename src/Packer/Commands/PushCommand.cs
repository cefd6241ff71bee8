using System.CommandLine;
using Xar.Distribution;
using Xar.Packer.Cli;

namespace Xar.Packer.Commands;

/// <summary>`xar push FILE REGISTRY/REPOSITORY[:TAG]`: the file into an OCI registry, as an artifact of one layer; prints the manifest digest.</summary>
public static class PushCommand
{
    public static Command Create()
    {
        var file = new Argument<string>("FILE") { Description = "a XAR, a self-contained executable or a SquashFS image" };
        var target = new Argument<string>("REFERENCE") { Description = "REGISTRY/REPOSITORY[:TAG] (tag: latest when left out)" };
        var annotation = new Option<string[]>("--annotation", "-a") { HelpName = "KEY=VALUE", Description = "KEY=VALUE, repeatable: an annotation of the manifest", Arity = ArgumentArity.ZeroOrMore, AllowMultipleArgumentsPerToken = false };
        var plainHttp = RegistryCommand.PlainHttpOption();
        var verbose = RegistryCommand.VerboseOption();
        var command = new Command("push", "Push a XAR (or self-contained executable, or SquashFS image) to an OCI registry as one artifact; print its manifest digest.")
        {
            file, target, annotation, plainHttp, verbose,
        };
        command.SetAction(parse =>
        {
            string path = parse.GetValue(file)!;
            string text = parse.GetValue(target)!;
            return RegistryCommand.Run(text, path, () =>
            {
                var reference = RegistryCommand.ParseReference(text);
                var annotations = new List<KeyValuePair<string, string>>();
                foreach (string a in parse.GetValue(annotation) ?? [])
                {
                    int eq = a.IndexOf('=');
                    if (eq <= 0)
                        throw new UsageException($"--annotation {a}: not KEY=VALUE");
                    annotations.Add(new(a[..eq], a[(eq + 1)..]));
                }
                var options = RegistryCommand.ClientOptions(reference, parse.GetValue(plainHttp), parse.GetValue(verbose));
                using var progress = new TransferProgress(draw: !Console.IsErrorRedirected, "push");
                var result = XarPush.PushAsync(path, reference, annotations, options, progress.Report, CancellationToken.None).GetAwaiter().GetResult();
                progress.Dispose();
                if (parse.GetValue(verbose))
                    Console.Error.WriteLine($"xar: blob {result.BlobDigest} ({result.MediaType}, {result.Size} bytes{(result.DigestKnown ? ", digest from the cache" : "")}): {(result.BlobUploaded ? "uploaded" : "already in the registry")}");
                StandardOutput.Writer.WriteLine(result.ManifestDigest);
                return ExitCodes.Success;
            });
        });
        return command;
    }
}
