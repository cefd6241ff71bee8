namespace Xar.SquashFs.Writing;

/// <summary>Writes a file through a temporary sibling that is renamed into place only when complete.</summary>
internal static class AtomicFile
{
    public static void Write(string destination, UnixFileMode? unixMode, Action<FileStream> write)
    {
        string full = Path.GetFullPath(destination);
        string directory = Path.GetDirectoryName(full) ?? ".";
        if (Directory.Exists(full))
            throw new IOException($"{destination} is a directory");
        string name = Path.GetFileName(full);
        string temp = Path.Combine(directory, $".{name[..Math.Min(name.Length, 200)]}.{Environment.ProcessId}-{Guid.NewGuid().ToString("N")[..8]}.tmp");
        try
        {
            var streamOptions = new FileStreamOptions
            {
                Mode = FileMode.CreateNew,
                Access = FileAccess.ReadWrite,
                Share = FileShare.None,
                BufferSize = 1 << 20,
            };
            if (unixMode is { } mode && !OperatingSystem.IsWindows())
                streamOptions.UnixCreateMode = mode;
            using (var stream = new FileStream(temp, streamOptions))
            {
                write(stream);
                stream.Flush(flushToDisk: false);
            }
            if (unixMode is { } m && !OperatingSystem.IsWindows())
                File.SetUnixFileMode(temp, m); // the umask may have taken bits away
            File.Move(temp, full, overwrite: true);
        }
        catch
        {
            try { File.Delete(temp); } catch (IOException) { } catch (UnauthorizedAccessException) { }
            throw;
        }
    }
}
