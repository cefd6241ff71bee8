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

    /// <summary>
    /// A new folder RELATIVE in here, mode 0755 whatever the umask: the folder a front-end packs becomes the image
    /// root, whose mode the mount shows to every user (a 0700 root refuses all but the packer's uid). The staging
    /// folder around it stays 0700, so nobody else reaches it while it is built.
    /// </summary>
    public string CreateImageRoot(string relative = "image")
    {
        string root = this[relative];
        Directory.CreateDirectory(root);
        SetImageRootMode(root);
        return root;
    }

    /// <summary>An image root made by a tool (dotnet publish's output folder) given mode 0755 (<see cref="CreateImageRoot"/>).</summary>
    public static void SetImageRootMode(string root)
    {
        if (LibC.Chmod(root, 0x1ED) != 0) // 0755
            throw new IOException($"{root}: cannot set its mode: {LibC.Describe(LibC.LastError)}");
    }

    /// <summary>
    /// What a front-end packs opened to every user (<see cref="TreeReadAccess"/>: a+rX on every entry, the root 0755): the
    /// tools that filled it (pip, npm, dotnet publish, cp -a) made their files under the user's umask, and with 077
    /// the image would hold files only the packer's uid may read through the mount. The image is a program for
    /// whoever can read the file, whose bytes show every entry anyway; write bits stay as they are (nothing writes to
    /// an image).
    /// </summary>
    public static void OpenToEveryUser(string root)
    {
        TreeReadAccess.Grant(root);
        SetImageRootMode(root);
    }

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
