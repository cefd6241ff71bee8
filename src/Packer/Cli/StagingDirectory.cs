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
    private readonly Interruption _interruption;

    public StagingDirectory(string purpose)
    {
        Path = Directory.CreateTempSubdirectory($"xar-{purpose}-").FullName; // mode 0700
        _interruption = new Interruption();
    }

    public string Path { get; }

    public CancellationToken Cancellation => _interruption.Token;

    public string this[string relative] => System.IO.Path.Combine(Path, relative);

    public void Dispose()
    {
        _interruption.Dispose();
        try
        {
            TreeRemover.Remove(Path); // read-only folders too (npm and NuGet leave some)
        }
        catch (IOException)
        {
        }
    }
}
