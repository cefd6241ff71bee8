namespace Xar.Launcher;

public static class Program
{
    public static int Main(string[] args)
    {
        Console.Error.WriteLine("usage: xarexec [-h] XARFILE [ARGS...]");
        return args.Length == 1 && args[0] == "-h" ? 0 : 127;
    }
}
