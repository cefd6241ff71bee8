namespace Xar.Runtime.Fuse;

/// <summary>
/// The files the kernel has open through the server: OPEN stores one and hands its number to the
/// kernel as the file handle, READ finds it again, RELEASE frees it. Handles are slot numbers + 1
/// (0 is never handed out); freed slots are reused, so the table is as large as the most files
/// open at once.
/// </summary>
internal sealed class FileHandleTable
{
    private readonly Lock _gate = new();
    private OpenFile?[] _files = new OpenFile?[64];
    private readonly Stack<int> _free = new();
    private int _used;
    private int _open;

    public int OpenCount
    {
        get
        {
            lock (_gate)
                return _open;
        }
    }

    public ulong Add(OpenFile file)
    {
        lock (_gate)
        {
            int slot;
            if (_free.Count > 0)
            {
                slot = _free.Pop();
            }
            else
            {
                if (_used == _files.Length)
                    Array.Resize(ref _files, _files.Length * 2);
                slot = _used++;
            }
            _files[slot] = file;
            _open++;
            return (ulong)slot + 1;
        }
    }

    /// <summary>The file behind a handle, or null for a handle that is not open.</summary>
    public OpenFile? Get(ulong handle)
    {
        lock (_gate)
            return handle - 1 < (ulong)_used ? _files[handle - 1] : null;
    }

    public void Remove(ulong handle)
    {
        lock (_gate)
        {
            if (handle - 1 >= (ulong)_used || _files[handle - 1] is null)
                return;
            _files[handle - 1] = null;
            _free.Push((int)(handle - 1));
            _open--;
        }
    }
}

/// <summary>
/// The files read most recently without an open handle (READ with file handle 0, after OPEN was
/// answered ENOSYS and the kernel stopped sending it), by node id: a sequential read of a large
/// file finds its block list here instead of reading it again for every request. Bounded.
/// </summary>
internal sealed class RecentFiles(int capacity)
{
    private readonly Dictionary<ulong, LinkedListNode<(ulong Node, OpenFile File)>> _index = new(capacity);
    private readonly LinkedList<(ulong Node, OpenFile File)> _order = new();
    private readonly Lock _gate = new();

    public OpenFile? Get(ulong node)
    {
        lock (_gate)
        {
            if (!_index.TryGetValue(node, out var entry))
                return null;
            if (entry != _order.First)
            {
                _order.Remove(entry);
                _order.AddFirst(entry);
            }
            return entry.Value.File;
        }
    }

    public void Add(ulong node, OpenFile file)
    {
        lock (_gate)
        {
            if (_index.ContainsKey(node))
                return;
            _index[node] = _order.AddFirst((node, file));
            if (_index.Count > capacity)
            {
                _index.Remove(_order.Last!.Value.Node);
                _order.RemoveLast();
            }
        }
    }
}
