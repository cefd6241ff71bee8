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
