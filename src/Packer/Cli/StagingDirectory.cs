using System.Runtime.InteropServices;
using Xar.Posix;

namespace Xar.Packer.Cli;

/// <summary>
/// A front-end's private work folder (what pip or a publish step installs before it is packed): made mode 0700
/// under $TMPDIR, and removed when the command ends, whether it succeeds, fails or is interrupted. SIGINT and
/// SIGTERM do not end the process at once: they cancel <see cref="Token"/>, which the tools the front-end runs
/// (<see cref="ExternalTool"/>) and the packing observe, so the command unwinds, removes the folder and exits 1.
/// </summary>
public sealed class StagingDirectory : IDisposable
{
    private readonly CancellationTokenSource cancel = new();
    private readonly PosixSignalRegistration sigint;
    private readonly PosixSignalRegistration sigterm;

    /// <param name="purpose">Part of the folder's name, for whoever finds it: <c>xar-PURPOSE-RANDOM</c>.</param>
    public StagingDirectory(string purpose)
    {
        Path = Directory.CreateTempSubdirectory($"xar-{purpose}-").FullName;
        sigint = PosixSignalRegistration.Create(PosixSignal.SIGINT, OnSignal);
        sigterm = PosixSignalRegistration.Create(PosixSignal.SIGTERM, OnSignal);
    }

    /// <summary>The folder's absolute path.</summary>
    public string Path { get; }

    /// <summary>Cancelled by SIGINT or SIGTERM.</summary>
    public CancellationToken Token => cancel.Token;

    private void OnSignal(PosixSignalContext context)
    {
        context.Cancel = true;
        cancel.Cancel();
    }

    public void Dispose()
    {
        try
        {
            Remove(Path);
        }
        finally
        {
            sigint.Dispose();
            sigterm.Dispose();
            cancel.Dispose();
        }
    }

    /// <summary>Removes the tree; a directory a tool left without write permission is made writable first.</summary>
    private static void Remove(string path)
    {
        try
        {
            Directory.Delete(path, recursive: true);
        }
        catch (Exception e) when ((e is UnauthorizedAccessException or IOException) && !OperatingSystem.IsWindows())
        {
            foreach (string dir in Directory.EnumerateDirectories(path, "*", new EnumerationOptions { RecurseSubdirectories = true, AttributesToSkip = FileAttributes.ReparsePoint }))
                File.SetUnixFileMode(dir, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute);
            File.SetUnixFileMode(path, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute);
            Directory.Delete(path, recursive: true);
        }
    }

    /// <summary>
    /// Sets the modification time of every entry under <paramref name="root"/> (and of root) that is later than
    /// <paramref name="epoch"/> to it, links themselves not their targets: what a front-end installs is new, and
    /// SOURCE_DATE_EPOCH then makes the image's times, and so its bytes, the same from one build to the next.
    /// </summary>
    public static unsafe void ClampTimes(string root, long epoch)
    {
        var times = stackalloc LibC.Timespec[2];
        times[0] = new LibC.Timespec { Seconds = epoch };
        times[1] = new LibC.Timespec { Seconds = epoch };
        var entries = new List<string>(Directory.EnumerateFileSystemEntries(root, "*", new EnumerationOptions { RecurseSubdirectories = true, AttributesToSkip = 0 }));
        // Deepest first, so that setting a file's time cannot be undone by a later change to its directory.
        entries.Sort((a, b) => b.Length.CompareTo(a.Length));
        entries.Add(root);
        foreach (string entry in entries)
        {
            var info = new FileInfo(entry);
            if (info.LastWriteTimeUtc <= DateTimeOffset.FromUnixTimeSeconds(epoch).UtcDateTime && info.LinkTarget is null)
                continue;
            byte[] name = System.Text.Encoding.UTF8.GetBytes(entry + "\0");
            fixed (byte* p = name)
                if (LibC.UtimensAt(LibC.AT_FDCWD, p, times, LibC.AT_SYMLINK_NOFOLLOW) != 0)
                    throw new IOException($"{entry}: cannot set its time: {Marshal.GetLastPInvokeErrorMessage()}");
        }
    }
}
