using System.Runtime.InteropServices;
using Xar.Posix;

namespace Xar.Packer.Cli;

/// <summary>
/// A front-end's private work folder (mode 0700 under $TMPDIR): what a tool (dotnet publish, npm ci) builds
/// before it is packed. It is removed on Dispose, whatever happened; SIGINT and SIGTERM, while it exists,
/// cancel <see cref="Cancellation"/> instead of killing xar, so the work stops (<see cref="ToolProcess"/> ends
/// its tool) and the folder is still removed on the way out.
/// </summary>
public sealed class StagingDirectory : IDisposable
{
    private readonly CancellationTokenSource _cancel = new();
    private readonly PosixSignalRegistration _sigint;
    private readonly PosixSignalRegistration _sigterm;

    public StagingDirectory(string purpose)
    {
        Path = Directory.CreateTempSubdirectory($"xar-{purpose}-").FullName; // mode 0700
        _sigint = PosixSignalRegistration.Create(PosixSignal.SIGINT, Stop);
        _sigterm = PosixSignalRegistration.Create(PosixSignal.SIGTERM, Stop);
    }

    public string Path { get; }

    public CancellationToken Cancellation => _cancel.Token;

    public string this[string relative] => System.IO.Path.Combine(Path, relative);

    private void Stop(PosixSignalContext context)
    {
        context.Cancel = true;
        _cancel.Cancel();
    }

    public void Dispose()
    {
        _sigint.Dispose();
        _sigterm.Dispose();
        try
        {
            TreeRemover.Remove(Path); // read-only folders too (npm and NuGet leave some)
        }
        catch (IOException)
        {
        }
        _cancel.Dispose();
    }
}
