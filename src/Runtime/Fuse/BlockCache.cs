using System.Runtime.InteropServices;

namespace Xar.Runtime.Fuse;

/// <summary>
/// A bounded cache of decompressed data and fragment blocks, shared by the server's threads.
/// A fixed number of block-sized slots in native memory (allocated when first used), found by key
/// and replaced by the CLOCK rule (a slot used since the hand last passed gets a second chance).
/// A slot is pinned while a caller copies out of it; a block being decoded is decoded once, other
/// callers for the same key wait for it. When every slot is pinned the caller decodes into its own
/// buffer instead (the cache never grows).
/// </summary>
internal sealed unsafe class BlockCache : IDisposable
{
    private const byte Empty = 0, Loading = 1, Ready = 2;

    private readonly int _blockSize;
    private readonly byte*[] _slots;
    private readonly long[] _keys;
    private readonly int[] _lengths;
    private readonly int[] _pins;
    private readonly byte[] _states;
    private readonly bool[] _referenced;
    private readonly Dictionary<long, int> _index;
    private readonly object _gate = new();
    private int _hand;
    private bool _disposed;

    /// <param name="blockSize">The image's block size: every slot holds one decoded block.</param>
    /// <param name="capacityBytes">The most decoded bytes to keep (at least 4 slots).</param>
    public BlockCache(int blockSize, long capacityBytes)
    {
        _blockSize = blockSize;
        int count = (int)Math.Clamp(capacityBytes / blockSize, 4, 1 << 16);
        _slots = new byte*[count];
        _keys = new long[count];
        _lengths = new int[count];
        _pins = new int[count];
        _states = new byte[count];
        _referenced = new bool[count];
        _index = new Dictionary<long, int>(count);
    }

    public int SlotCount => _slots.Length;

    /// <summary>
    /// What to decode for a key that is not cached, into a block-sized destination; returns the
    /// decoded length. Throws for a corrupt block (nothing is cached then).
    /// </summary>
    public interface IBlockDecoder
    {
        int Decode(long key, Span<byte> destination);
    }

    /// <summary>
    /// Finds or decodes the block <paramref name="key"/> and pins it. Returns the slot to pass to
    /// <see cref="Release"/>, or -1 when every slot is pinned: then the block was decoded into
    /// <paramref name="fallback"/> (block-sized, the caller's) and <paramref name="data"/> points there.
    /// </summary>
    public int Acquire<TDecoder>(long key, ref TDecoder decoder, byte* fallback, out byte* data, out int length)
        where TDecoder : struct, IBlockDecoder
    {
        int slot;
        lock (_gate)
        {
            ObjectDisposedException.ThrowIf(_disposed, this);
            while (true)
            {
                if (_index.TryGetValue(key, out slot))
                {
                    if (_states[slot] == Loading)
                    {
                        Monitor.Wait(_gate);
                        continue; // the slot may have been given up (corrupt block) or reused meanwhile
                    }
                    _pins[slot]++;
                    _referenced[slot] = true;
                    data = _slots[slot];
                    length = _lengths[slot];
                    return slot;
                }
                slot = FindVictim();
                if (slot < 0)
                    break;
                if (_states[slot] == Ready)
                    _index.Remove(_keys[slot]);
                _slots[slot] = _slots[slot] is null ? (byte*)NativeMemory.Alloc((nuint)_blockSize) : _slots[slot];
                _keys[slot] = key;
                _states[slot] = Loading;
                _pins[slot] = 1;
                _referenced[slot] = true;
                _index[key] = slot;
                break;
            }
        }
        if (slot < 0)
        {
            length = decoder.Decode(key, new Span<byte>(fallback, _blockSize));
            data = fallback;
            return -1;
        }
        try
        {
            length = decoder.Decode(key, new Span<byte>(_slots[slot], _blockSize));
        }
        catch
        {
            lock (_gate)
            {
                _index.Remove(key);
                _states[slot] = Empty;
                _pins[slot] = 0;
                Monitor.PulseAll(_gate);
            }
            throw;
        }
        lock (_gate)
        {
            _lengths[slot] = length;
            _states[slot] = Ready;
            Monitor.PulseAll(_gate);
        }
        data = _slots[slot];
        return slot;
    }

    /// <summary>Unpins a slot returned by <see cref="Acquire"/> (nothing to do for -1).</summary>
    public void Release(int slot)
    {
        if (slot < 0)
            return;
        lock (_gate)
            _pins[slot]--;
    }

    // Under the lock: an empty slot, else the first unpinned ready slot not used since the hand last passed.
    private int FindVictim()
    {
        int n = _slots.Length;
        for (int step = 0; step < 2 * n; step++)
        {
            int i = _hand;
            _hand = (_hand + 1) % n;
            if (_states[i] == Empty)
                return i;
            if (_states[i] != Ready || _pins[i] > 0)
                continue;
            if (_referenced[i])
            {
                _referenced[i] = false;
                continue;
            }
            return i;
        }
        return -1;
    }

    public void Dispose()
    {
        lock (_gate)
        {
            if (_disposed)
                return;
            _disposed = true;
            for (int i = 0; i < _slots.Length; i++)
            {
                NativeMemory.Free(_slots[i]);
                _slots[i] = null;
            }
        }
    }
}
