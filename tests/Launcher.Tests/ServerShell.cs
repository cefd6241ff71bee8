namespace Xar.Launcher.Tests;

/// <summary>Shell for the tests' scripts that look at the built-in FUSE server from inside a mount namespace of their own.</summary>
internal static class ServerShell
{
    /// <summary>Defines <c>server DIR</c>: prints the command line (arguments joined by spaces, one after the last) of the server mounted on DIR. Ends with a newline.</summary>
    public const string ServerFunction = """
        server() {
            for p in /proc/[0-9]*; do
                c=$(tr '\0' ' ' < $p/cmdline 2>/dev/null) || continue
                case "$c" in *--fuse-serve*" $1 ") echo "$c";; esac
            done
        }

        """;
}
