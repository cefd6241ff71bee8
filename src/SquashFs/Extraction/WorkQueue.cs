namespace Xar.SquashFs.Extraction;

/// <summary>
/// A bounded producer/consumer queue that blocks without spinning. (BlockingCollection's
/// spin-then-yield waiting burned most of a core in sched_yield on a busy two-core machine.)
/// </summary>
internal sealed class WorkQueue<T>(int capacity)
{
    private readonly Queue<T> _items = new(capacity);
    private readonly object _gate = new();
    private bool _completed;
    private int _waitingTakers;
    private int _waitingAdders;

    public void Add(T item)
    {
        lock (_gate)
        {
            while (_items.Count >= capacity && !_completed)
            {
                _waitingAdders++;
                Monitor.Wait(_gate);
                _waitingAdders--;
            }
            if (_completed)
                throw new InvalidOperationException("the queue is completed");
            _items.Enqueue(item);
            // Wake only when someone waits: a futex call per item is what makes such queues slow.
            if (_waitingTakers > 0)
                Monitor.PulseAll(_gate);
        }
    }

    /// <summary>Waits for an item; false once the queue is completed and empty.</summary>
    public bool TryTake(out T item)
    {
        lock (_gate)
        {
            while (_items.Count == 0 && !_completed)
            {
                _waitingTakers++;
                Monitor.Wait(_gate);
                _waitingTakers--;
            }
            if (_items.Count == 0)
            {
                item = default!;
                return false;
            }
            item = _items.Dequeue();
            if (_waitingAdders > 0)
                Monitor.PulseAll(_gate);
            return true;
        }
    }

    public void Complete()
    {
        lock (_gate)
        {
            _completed = true;
            Monitor.PulseAll(_gate);
        }
    }
}
