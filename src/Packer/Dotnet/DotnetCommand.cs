using System.CommandLine;
using Xar.Packer.Cli;
using Xar.Runtime;

namespace Xar.Packer.Dotnet;

/// <summary>
/// <c>xar dotnet PROJECT -o OUT [-r RID] [-- DOTNET_PUBLISH_ARGS...]</c>: the project published self-contained
/// (<see cref="DotnetPublish"/>) and packed with its apphost as the entrypoint.
/// </summary>
public static class DotnetCommand
{
    /// <param name="args">The command line: what follows "--" goes to dotnet publish as given.</param>
    public static Command Create(string[] args)
    {
        var project = new Argument<string>("PROJECT") { Description = "The .csproj/.fsproj, or the folder that holds exactly one" };
        var publishArguments = new Argument<string[]>("DOTNET_PUBLISH_ARGS")
        {
            Description = "After --: more arguments for dotnet publish (-p:PublishTrimmed=true, -p:PublishReadyToRun=true, ...)",
            Arity = ArgumentArity.ZeroOrMore,
        };
        var rid = new Option<string?>("--rid", "-r") { HelpName = "RID", Description = "Runtime identifier to publish for, linux-* (default: this machine's, e.g. linux-x64)" };
        var options = new PackOptions();
        var command = new Command("dotnet", "Publish a .NET project self-contained (Release) and pack it into a XAR whose entrypoint is its apphost")
        {
            project, publishArguments, rid,
        };
        options.AddTo(command);
        command.SetAction(parse => FrontEndException.Guard(() =>
        {
            string given = parse.GetValue(project)!;
            string[] afterDashes = AfterDoubleDash(args);
            string[] extra = parse.GetValue(publishArguments) ?? [];
            if (extra.Length > afterDashes.Length)
                throw new UsageException($"unexpected argument '{extra[0]}': arguments for dotnet publish go after --");
            string targetRid = parse.GetValue(rid) ?? DotnetProject.MachineRid();
            DotnetProject.CheckRid(targetRid);
            options.Check(parse);
            string projectFile = DotnetProject.Resolve(given);
            options.CheckOutputIsNotInput(parse, Path.GetDirectoryName(projectFile)!, "the project's folder");

            using var staging = new StagingDirectory("dotnet");
            if (!parse.GetValue(options.Quiet))
                Console.Error.WriteLine($"xar: dotnet publish {given} ({targetRid}, Release, self-contained)");
            var published = DotnetPublish.Run(projectFile, targetRid, afterDashes, staging, given);
            string entry = Path.Combine(published.Directory, published.AssemblyName);
            if (!File.Exists(entry) || Xar.Posix.LibC.Access(entry, Xar.Posix.LibC.X_OK) != 0)
                throw new UsageException($"the publish made no executable {published.AssemblyName} (a library, or UseAppHost=false? xar dotnet needs an app with an apphost)", given);
            // Only now: which files the app needs comes from the project (its AssemblyName, a single-file publish).
            options.CheckNotExcluded(parse, DotnetPublish.NeededToStart(published));
            StagingDirectory.OpenToEveryUser(published.Directory); // made by dotnet publish under the umask
            staging.Cancellation.ThrowIfCancellationRequested();
            return options.Pack(parse, published.Directory, new XarWriterOptions { ExecPath = published.AssemblyName });
        }));
        return command;
    }

    /// <summary>The raw arguments after the first "--" that follows the "dotnet" command word.</summary>
    private static string[] AfterDoubleDash(string[] args)
    {
        int command = Array.IndexOf(args, "dotnet");
        int dashes = command < 0 ? -1 : Array.IndexOf(args, "--", command + 1);
        return dashes < 0 ? [] : args[(dashes + 1)..];
    }
}
