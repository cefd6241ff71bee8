using System.Text;
using Xar.Posix;

namespace Xar.Packer.Cli;

/// <summary>
/// Standard error for every `xar` command, made forgiving: a message that cannot be written (stderr closed with
/// <c>2&gt;&amp;-</c>, or <c>/dev/full</c>) is dropped. .NET's console writer throws there, so the one-line error
/// itself, or a summary after a successful pack, ended the process by an unhandled exception (SIGABRT, exit 134)
/// instead of the command's own status, which is then the only report left.
/// </summary>
public static class StandardError
{
    private static int _installed;

    /// <summary>Wraps <see cref="Console.Error"/> (at the start of Main; once per process).</summary>
    public static void Install()
    {
        if (Interlocked.Exchange(ref _installed, 1) != 0)
            return;
        // A closed descriptor 0 or 1 is the lowest free one, so the next open or dup (the console's own dup of 2, one
        // of ours) lands there: `xar push ... 1>&-` then wrote its digest to stderr and exited 0. As coreutils, each is
        // taken by /dev/null opened against its use (0 write-only, 1 read-only), so using it fails with EBADF
        // ("standard output: Bad file descriptor", exit 1); close-on-exec, so a program run is given it closed, as we were.
        OccupyIfClosed(0, LibC.O_WRONLY);
        OccupyIfClosed(1, LibC.O_RDONLY);
        TextWriter error;
        try
        {
            error = Console.Error;
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            error = TextWriter.Null; // descriptor 2 is closed: .NET cannot even set up its writer
        }
        Console.SetError(new Forgiving(error));
    }

    private static void OccupyIfClosed(int fd, int flags)
    {
        if (LibC.Fcntl(fd, LibC.F_GETFD, 0) >= 0 || LibC.LastError != LibC.EBADF)
            return;
        int opened = LibC.Open("/dev/null", flags | LibC.O_NOCTTY | LibC.O_CLOEXEC, 0); // the lowest free: fd, as those below are open
        if (opened >= 0 && opened != fd)
            LibC.Close(opened);
    }

    private sealed class Forgiving(TextWriter inner) : TextWriter
    {
        public override Encoding Encoding => inner.Encoding;

        public override void Write(char value) => Guard(() => inner.Write(value));

        public override void Write(string? value) => Guard(() => inner.Write(value));

        public override void Write(char[] buffer, int index, int count) => Guard(() => inner.Write(buffer, index, count));

        public override void WriteLine(string? value) => Guard(() => inner.WriteLine(value));

        public override void WriteLine() => Guard(inner.WriteLine);

        public override void Flush() => Guard(inner.Flush);

        private static void Guard(Action write)
        {
            try
            {
                write();
            }
            catch (IOException)
            {
            }
            catch (UnauthorizedAccessException)
            {
            }
        }
    }
}
