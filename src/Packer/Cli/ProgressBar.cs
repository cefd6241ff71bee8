using System.Diagnostics;
using System.Globalization;

namespace Xar.Packer.Cli;

/// <summary>
/// What `xar pack` reports on stderr: a one-line progress bar, redrawn at most 10 times a second, when
/// <paramref name="draw"/> (stderr is a terminal), and the one summary line at the end, drawn or not.
/// </summary>
public sealed class ProgressBar(bool draw) : IDisposable
{
    private readonly Stopwatch _clock = Stopwatch.StartNew();
    private long _lastDraw = -1000;
    private bool _drawn;
    private SquashFs.SquashFsWriteProgress _last;

    public void Report(SquashFs.SquashFsWriteProgress p)
    {
        _last = p;
        if (!draw)
            return;
        long now = _clock.ElapsedMilliseconds;
        if (now - _lastDraw < 100)
            return;
        _lastDraw = now;
        Draw(p);
    }

    private void Draw(SquashFs.SquashFsWriteProgress p)
    {
        // Each file costs about as much as 16 KiB of data (open, stat, inode): count both.
        const double perFile = 16384;
        double total = p.BytesTotal + p.FilesTotal * perFile;
        double fraction = total > 0 ? Math.Clamp((p.BytesRead + p.FilesDone * perFile) / total, 0, 1) : 1;
        const int width = 24;
        int filled = (int)(fraction * width);
        string ratio = p.BytesRead > 0 && p.BytesWritten > 0 ? $" ratio {(double)p.BytesWritten / p.BytesRead:0.00}" : "";
        string line = $"\r[{new string('#', filled)}{new string('.', width - filled)}] {fraction * 100,3:0}%  {p.FilesDone}/{p.FilesTotal} files  {Size(p.BytesRead)}/{Size(p.BytesTotal)}{ratio}";
        Console.Error.Write(line + "\x1b[K");
        _drawn = true;
    }

    /// <summary>
    /// The summary, as mksquashfs ends with one: files, bytes in and out, the ratio and the time, e.g.
    /// "xar: packed 1476 files (12.3 MiB) into app.xar: 3.4 MiB (27.6% of the input) in 1.2 s".
    /// </summary>
    /// <param name="runtimeBytes">For a self-contained executable, the bytes before its XAR (the runtime and its
    /// padding to 4096): the ratio is then the XAR's alone, which is what compression made of the input.</param>
    public string Summary(string output, long outputBytes, long runtimeBytes = 0)
    {
        var p = _last;
        long archiveBytes = outputBytes - runtimeBytes;
        string ratio = p.BytesRead > 0 ? string.Create(CultureInfo.InvariantCulture, $" ({100.0 * archiveBytes / p.BytesRead:0.0}% of the input)") : "";
        string size = runtimeBytes > 0
            ? $"{Size(outputBytes)}, the runtime {Size(runtimeBytes)} and the XAR {Size(archiveBytes)}{ratio}"
            : Size(outputBytes) + ratio;
        return string.Create(CultureInfo.InvariantCulture,
            $"xar: packed {p.FilesDone} files ({Size(p.BytesRead)}) into {output}: {size} in {_clock.Elapsed.TotalSeconds:0.0} s");
    }

    public void Clear()
    {
        if (_drawn)
            Console.Error.Write("\r\x1b[K");
        _drawn = false;
    }

    private static string Size(long bytes) => bytes switch
    {
        < 1024 => string.Create(CultureInfo.InvariantCulture, $"{bytes} B"),
        < 1024 * 1024 => string.Create(CultureInfo.InvariantCulture, $"{bytes / 1024.0:0.0} KiB"),
        < 1024L * 1024 * 1024 => string.Create(CultureInfo.InvariantCulture, $"{bytes / 1048576.0:0.0} MiB"),
        _ => string.Create(CultureInfo.InvariantCulture, $"{bytes / 1073741824.0:0.00} GiB"),
    };

    public void Dispose() => Clear();
}
