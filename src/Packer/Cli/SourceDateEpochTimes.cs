using System.Runtime.InteropServices;
using Xar.Posix;

namespace Xar.Packer.Cli;

/// <summary>
/// SOURCE_DATE_EPOCH for a front-end's staging folder: what a tool installs there is new, so its times differ
/// from one build to the next; clamped to the epoch, the image's times, and so its bytes, do not.
/// </summary>
public static class SourceDateEpochTimes
{
    /// <summary>SOURCE_DATE_EPOCH when set, checked as the image writer checks it (bad: exit 2 before any work).</summary>
    public static long? Read()
    {
        string? text = Environment.GetEnvironmentVariable("SOURCE_DATE_EPOCH");
        if (string.IsNullOrEmpty(text))
            return null;
        if (!uint.TryParse(text, System.Globalization.NumberStyles.None, System.Globalization.CultureInfo.InvariantCulture, out uint seconds))
            throw new UsageException($"SOURCE_DATE_EPOCH=\"{text}\" is not a number of seconds from 0 to 4294967295");
        return seconds;
    }

    /// <summary>
    /// Sets the modification time of every entry under <paramref name="root"/> (and of root) that is later than
    /// <paramref name="epoch"/> to it, links themselves not their targets. The folder is the front-end's own
    /// (mode 0700), so its paths cannot be swapped under it.
    /// </summary>
    public static unsafe void Clamp(string root, long epoch)
    {
        var times = stackalloc LibC.Timespec[2];
        times[0] = new LibC.Timespec { Seconds = epoch };
        times[1] = new LibC.Timespec { Seconds = epoch };
        var entries = new List<string>(Directory.EnumerateFileSystemEntries(root, "*", new EnumerationOptions { RecurseSubdirectories = true, AttributesToSkip = 0 }));
        // Children before their directory (a child's path is longer), so that no later change undoes a directory's time.
        entries.Sort((a, b) => b.Length.CompareTo(a.Length));
        entries.Add(root);
        var limit = DateTimeOffset.FromUnixTimeSeconds(epoch).UtcDateTime;
        foreach (string entry in entries)
        {
            var info = new FileInfo(entry);
            if (info.LinkTarget is null && info.LastWriteTimeUtc <= limit)
                continue;
            byte[] name = System.Text.Encoding.UTF8.GetBytes(entry + "\0");
            fixed (byte* p = name)
                if (LibC.UtimensAt(LibC.AT_FDCWD, p, times, LibC.AT_SYMLINK_NOFOLLOW) != 0)
                    throw new IOException($"{entry}: cannot set its time: {Marshal.GetLastPInvokeErrorMessage()}");
        }
    }
}
