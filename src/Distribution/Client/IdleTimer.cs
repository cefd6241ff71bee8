namespace Xar.Distribution;

/// <summary>
/// A cancellation that fires when a transfer has not moved for <see cref="Limit"/>: each <see cref="Kick"/> (a read
/// or write that made progress) starts the count again. HttpClient's own Timeout bounds a whole request, which a
/// gigabyte may rightly exceed; a registry that stops sending (or taking) bytes must not hang xar forever.
/// </summary>
internal sealed class IdleTimer : IDisposable
{
    private readonly CancellationTokenSource _source;
    private readonly CancellationToken _outer;

    public IdleTimer(TimeSpan limit, CancellationToken outer)
    {
        Limit = limit;
        _outer = outer;
        _source = CancellationTokenSource.CreateLinkedTokenSource(outer);
        Kick();
    }

    public TimeSpan Limit { get; }

    public CancellationToken Token => _source.Token;

    /// <summary>What the registry was expected to do when the timer fired: "sending" (an answer) or "receiving" (a body).</summary>
    public string Waiting { get; set; } = "sending";

    /// <summary>True when the timer fired (not the caller's own cancellation).</summary>
    public bool Expired => _source.IsCancellationRequested && !_outer.IsCancellationRequested;

    public void Kick()
    {
        if (Limit != Timeout.InfiniteTimeSpan)
            _source.CancelAfter(Limit);
    }

    /// <summary>"registry stopped sending for 60 s", the line's end.</summary>
    public string Describe() => $"registry stopped {Waiting} for {Limit.TotalSeconds:0.###} s";

    public void Dispose() => _source.Dispose();
}
