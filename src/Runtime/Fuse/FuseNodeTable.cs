using Xar.SquashFs.Format;
using Xar.SquashFs.Reading;

namespace Xar.Runtime.Fuse;

/// <summary>
/// FUSE node ids ↔ image inodes, and how many lookups the kernel holds on each node.
/// A node id is derived from the inode's reference in the inode table (root = 1, any other inode
/// = packed reference + 2), so hard links, which share one inode, share one node, and a node id
/// always names the same inode. Lookup counts follow the protocol: each LOOKUP reply and each
/// READDIRPLUS entry adds one, FORGET and BATCH_FORGET take them back; a node whose count drops to
/// zero is unknown again (ENOENT). The table holds what the kernel holds, nothing else.
///
/// For a small file (all of it a tail in a fragment block) it also notes where the tail is, by
/// fragment block, so that when one such file is read the others in the same block can be handed
/// to the kernel's page cache too (<see cref="FragmentPrefetcher"/>), once each.
/// </summary>
internal sealed class FuseNodeTable
{
    private const uint NoFragment = uint.MaxValue;

    private struct Node
    {
        public ulong Lookups;
        public uint Fragment;
        public uint TailOffset;
        public uint Size;
        /// <summary>The kernel was given (or asked for) this file's data.</summary>
        public bool Stored;
    }

    private readonly ulong _rootReference;
    private readonly Dictionary<ulong, Node> _nodes = [];
    private readonly Dictionary<uint, List<ulong>> _byFragment = [];
    private readonly Lock _gate = new();

    public FuseNodeTable(MetadataReference root) => _rootReference = root.Packed;

    /// <summary>Nodes the kernel holds, the root not counted.</summary>
    public int Count
    {
        get
        {
            lock (_gate)
                return _nodes.Count;
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
            if (!_nodes.ContainsKey(nodeId))
                return null;
        }
        return MetadataReference.FromPacked(nodeId - 2);
    }

    /// <summary>Counts one lookup of <paramref name="inode"/> (a LOOKUP reply or a READDIRPLUS entry) and returns its node id.</summary>
    public ulong Remember(MetadataReference reference, Inode inode)
    {
        ulong id = NodeId(reference);
        if (id == FuseProtocol.RootId)
            return id; // never forgotten
        lock (_gate)
        {
            if (_nodes.TryGetValue(id, out var node))
            {
                node.Lookups++;
                _nodes[id] = node;
                return id;
            }
            node = new Node { Lookups = 1, Fragment = NoFragment };
            if (inode.BasicType == InodeType.File && inode.BlockCount == 0 && inode.HasFragment && inode.FileSize > 0)
            {
                node.Fragment = inode.FragmentIndex;
                node.TailOffset = inode.FragmentOffset;
                node.Size = (uint)inode.FileSize;
                if (!_byFragment.TryGetValue(node.Fragment, out var list))
                    _byFragment[node.Fragment] = list = new List<ulong>(4);
                list.Add(id);
            }
            _nodes[id] = node;
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
            if (!_nodes.TryGetValue(nodeId, out var node))
                return;
            if (node.Lookups > lookups)
            {
                node.Lookups -= lookups;
                _nodes[nodeId] = node;
                return;
            }
            _nodes.Remove(nodeId);
            if (node.Fragment != NoFragment && _byFragment.TryGetValue(node.Fragment, out var list))
            {
                list.Remove(nodeId);
                if (list.Count == 0)
                    _byFragment.Remove(node.Fragment);
            }
        }
    }

    /// <summary>Notes that the kernel is reading this node itself (its data need not be handed over).</summary>
    public void MarkStored(ulong nodeId)
    {
        lock (_gate)
        {
            if (_nodes.TryGetValue(nodeId, out var node) && !node.Stored)
            {
                node.Stored = true;
                _nodes[nodeId] = node;
            }
        }
    }

    /// <summary>
    /// The known small files in fragment block <paramref name="fragment"/> whose data the kernel has
    /// not had yet (node, offset in the block, size), each marked as had from now on.
    /// </summary>
    public void TakeUnstored(uint fragment, List<(ulong Node, uint Offset, uint Size)> into)
    {
        into.Clear();
        lock (_gate)
        {
            if (!_byFragment.TryGetValue(fragment, out var list))
                return;
            foreach (ulong id in list)
            {
                var node = _nodes[id];
                if (node.Stored)
                    continue;
                node.Stored = true;
                _nodes[id] = node;
                into.Add((id, node.TailOffset, node.Size));
            }
        }
    }
}
