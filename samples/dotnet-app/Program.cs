// Prints where it runs from, its arguments and its working directory; "--stdin" echoes standard
// input; "--exit N" ends with status N; "--lang fr" greets from the French satellite assembly
// (fr/greet.resources.dll). The AssemblyName (greet) differs from the project file's name on purpose:
// `xar dotnet` must take the entrypoint from MSBuild, not from the file name.
using System.Globalization;
using System.Resources;

int lang = Array.IndexOf(args, "--lang");
var culture = lang >= 0 && lang + 1 < args.Length ? new CultureInfo(args[lang + 1]) : CultureInfo.InvariantCulture;
Console.WriteLine(new ResourceManager("DotnetApp.Strings", typeof(Program).Assembly).GetString("Greeting", culture));
Console.WriteLine($"base directory: {AppContext.BaseDirectory}");
Console.WriteLine($"working directory: {Environment.CurrentDirectory}");
Console.WriteLine("arguments:");
int exitCode = 0;
for (int i = 0; i < args.Length; i++)
{
    Console.WriteLine($"  [{args[i]}]");
    if (args[i] == "--exit" && i + 1 < args.Length)
        exitCode = int.Parse(args[i + 1], CultureInfo.InvariantCulture);
}
if (args.Contains("--stdin"))
    Console.WriteLine($"stdin: [{Console.In.ReadToEnd()}]");
return exitCode;
