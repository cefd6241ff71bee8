using Xar.Runtime.Signing;

namespace Xar.Runtime.Launching;

/// <summary>
/// The public keys a trust policy names (<see cref="TrustPolicy"/>), in fixed buffers so the launch core holds them on
/// its stack before the .NET runtime starts. No key: no policy.
/// </summary>
public unsafe struct TrustedKeys
{
    public const int Capacity = 64;
    private const int IdLength = MinisignPublicKey.KeyIdLength, KeyLength = MinisignPublicKey.KeyLength;

    public int Count;
    private fixed byte _ids[Capacity * IdLength];
    private fixed byte _keys[Capacity * KeyLength];

    public readonly bool InForce => Count > 0;

    public bool TryAdd(ReadOnlySpan<byte> keyId, ReadOnlySpan<byte> key)
    {
        if (Count == Capacity)
            return false;
        fixed (byte* ids = _ids)
        fixed (byte* keys = _keys)
        {
            keyId.CopyTo(new Span<byte>(ids + Count * IdLength, IdLength));
            key.CopyTo(new Span<byte>(keys + Count * KeyLength, KeyLength));
        }
        Count++;
        return true;
    }

    /// <summary>The index of the key with that id, or -1.</summary>
    public int IndexOf(ReadOnlySpan<byte> keyId)
    {
        fixed (byte* ids = _ids)
            for (int i = 0; i < Count; i++)
                if (new ReadOnlySpan<byte>(ids + i * IdLength, IdLength).SequenceEqual(keyId))
                    return i;
        return -1;
    }

    /// <summary>True when this very key (id and key bytes) is already held.</summary>
    public bool Contains(ReadOnlySpan<byte> keyId, ReadOnlySpan<byte> key)
    {
        fixed (byte* ids = _ids)
        fixed (byte* keys = _keys)
            for (int i = 0; i < Count; i++)
                if (new ReadOnlySpan<byte>(ids + i * IdLength, IdLength).SequenceEqual(keyId)
                    && new ReadOnlySpan<byte>(keys + i * KeyLength, KeyLength).SequenceEqual(key))
                    return true;
        return false;
    }

    /// <summary>The keys as objects, for the managed check of a signature.</summary>
    public MinisignPublicKey[] ToKeys()
    {
        var result = new MinisignPublicKey[Count];
        fixed (byte* ids = _ids)
        fixed (byte* keys = _keys)
            for (int i = 0; i < Count; i++)
                result[i] = MinisignPublicKey.FromParts(new ReadOnlySpan<byte>(ids + i * IdLength, IdLength), new ReadOnlySpan<byte>(keys + i * KeyLength, KeyLength));
        return result;
    }
}
