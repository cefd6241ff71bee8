using System.Diagnostics;
using System.Globalization;

namespace Xar.Packer.Cli;

/// <summary>
/// The progress bar of `xar push` and `xar pull` on stderr, when it is a terminal: bytes moved of the total and the
/// rate, redrawn at most 10 times a second, erased at the end.
/// </summary>
public sealed class TransferProgress(bool draw, string verb) : IDisposable
{
    private readonly Stopwatch _clock = Stopwatch.StartNew();
    private long _lastDraw = -1000;
    private bool _drawn;

    public void Report(long done, long total)
    {
        if (!draw)
            return;
        long now = _clock.ElapsedMilliseconds;
        if (now - _lastDraw < 100 && done < total)
            return;
        _lastDraw = now;
        double fraction = total > 0 ? Math.Clamp((double)done / total, 0, 1) : 1;
        const int width = 24;
        int filled = (int)(fraction * width);
        double seconds = Math.Max(_clock.Elapsed.TotalSeconds, 0.001);
        string line = string.Create(CultureInfo.InvariantCulture,
            $"\r{verb} [{new string('#', filled)}{new string('.', width - filled)}] {fraction * 100,3:0}%  {Size(done)}/{Size(total)}  {Size((long)(done / seconds))}/s");
        Console.Error.Write(line + "\x1b[K");
        _drawn = true;
    }

    public static string Size(long bytes) => bytes switch
    {
        < 1024 => string.Create(CultureInfo.InvariantCulture, $"{bytes} B"),
        < 1024 * 1024 => string.Create(CultureInfo.InvariantCulture, $"{bytes / 1024.0:0.0} KiB"),
        < 1024L * 1024 * 1024 => string.Create(CultureInfo.InvariantCulture, $"{bytes / 1048576.0:0.0} MiB"),
        _ => string.Create(CultureInfo.InvariantCulture, $"{bytes / 1073741824.0:0.00} GiB"),
    };

    public void Dispose()
    {
        if (_drawn)
            Console.Error.Write("\r\x1b[K");
        _drawn = false;
    }
}
