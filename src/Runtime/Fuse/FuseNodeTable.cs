using Xar.SquashFs.Format;

namespace Xar.Runtime.Fuse;

/// <summary>
/// FUSE node ids ↔ image inodes, and how many lookups the kernel holds on each node.
/// A node id is derived from the inode's reference in the inode table (root = 1, any other inode
/// = packed reference + 2), so hard links, which share one inode, share one node, and a node id
/// always names the same inode. Lookup counts follow the protocol: each LOOKUP reply and each
/// READDIRPLUS entry adds one, FORGET and BATCH_FORGET take them back; a node whose count drops to
/// zero is unknown again (ENOENT). The table holds what the kernel holds, nothing else.
/// </summary>
internal sealed class FuseNodeTable
{
    private readonly ulong _rootReference;
    private readonly Dictionary<ulong, ulong> _lookups = [];
    private readonly Lock _gate = new();

    public FuseNodeTable(MetadataReference root) => _rootReference = root.Packed;

    /// <summary>Nodes the kernel holds, the root not counted.</summary>
    public int Count
    {
        get
        {
            lock (_gate)
                return _lookups.Count;
        }
    }

    public ulong NodeId(MetadataReference inode) => inode.Packed == _rootReference ? FuseProtocol.RootId : inode.Packed + 2;

    /// <summary>The inode of a node the kernel holds, or null for a node id it was never given or has forgotten.</summary>
    public MetadataReference? Resolve(ulong nodeId)
    {
        if (nodeId == FuseProtocol.RootId)
            return MetadataReference.FromPacked(_rootReference);
        lock (_gate)
        {
            if (!_lookups.ContainsKey(nodeId))
                return null;
        }
        return MetadataReference.FromPacked(nodeId - 2);
    }

    /// <summary>Counts one lookup of <paramref name="inode"/> (a LOOKUP reply or a READDIRPLUS entry) and returns its node id.</summary>
    public ulong Remember(MetadataReference inode)
    {
        ulong id = NodeId(inode);
        if (id == FuseProtocol.RootId)
            return id; // never forgotten
        lock (_gate)
        {
            _lookups.TryGetValue(id, out ulong count);
            _lookups[id] = count + 1;
        }
        return id;
    }

    /// <summary>Takes back a lookup that was counted but never reached the kernel (the reply failed).</summary>
    public void Unremember(ulong nodeId) => Forget(nodeId, 1);

    public void Forget(ulong nodeId, ulong lookups)
    {
        if (nodeId == FuseProtocol.RootId)
            return;
        lock (_gate)
        {
            if (!_lookups.TryGetValue(nodeId, out ulong count))
                return;
            if (count <= lookups)
                _lookups.Remove(nodeId);
            else
                _lookups[nodeId] = count - lookups;
        }
    }
}
