using System.CommandLine;

namespace Xar.Packer;

public static class Program
{
    public static int Main(string[] args)
    {
        var root = new RootCommand("xar: pack an application into one compressed, read-only, executable file (XAR / SquashFS), and inspect such files.");
        return root.Parse(args).Invoke();
    }
}
