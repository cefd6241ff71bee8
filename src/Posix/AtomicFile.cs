namespace Xar.Posix;

/// <summary>
/// Replaces a file atomically: the content is written to a temporary sibling, which is renamed over
/// the destination only when complete, so readers see the old file or the new one, never a part.
/// </summary>
public static class AtomicFile
{
    /// <summary>
    /// Writes <paramref name="destination"/> through <paramref name="write"/>, which gets the
    /// temporary file (seekable, read-write). <paramref name="unixMode"/>: the new file's mode
    /// exactly (the umask does not apply); null: the default mode, less the umask. When
    /// <paramref name="write"/> throws, the temporary file is deleted and the destination left as it was.
    /// </summary>
    /// <exception cref="IOException"><paramref name="destination"/> is a directory, or writing failed.</exception>
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
