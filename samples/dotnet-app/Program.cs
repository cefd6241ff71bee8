// Prints where it runs from, its arguments and its working directory; "--stdin" echoes standard
// input; "--exit N" ends with status N. The AssemblyName (greet) differs from the project file's name
// on purpose: `xar dotnet` must take the entrypoint from MSBuild, not from the file name.
Console.WriteLine("Hello from .NET inside a XAR!");
Console.WriteLine($"base directory: {AppContext.BaseDirectory}");
Console.WriteLine($"working directory: {Environment.CurrentDirectory}");
Console.WriteLine("arguments:");
int exitCode = 0;
for (int i = 0; i < args.Length; i++)
{
    Console.WriteLine($"  [{args[i]}]");
    if (args[i] == "--exit" && i + 1 < args.Length)
        exitCode = int.Parse(args[i + 1], System.Globalization.CultureInfo.InvariantCulture);
}
if (args.Contains("--stdin"))
    Console.WriteLine($"stdin: [{Console.In.ReadToEnd()}]");
return exitCode;
