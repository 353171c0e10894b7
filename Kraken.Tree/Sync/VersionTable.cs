// A table of (node, version) pairs with its digest kept up to date: what was sent, or received, on an adjacency.
using Kraken.Net.Sync;
using Kraken.Tree.State;

namespace Kraken.Tree.Sync;

internal sealed class VersionTable
{
    private readonly Dictionary<NodeId, ulong> _versions = [];
    private VersionDigest _digest;

    public VersionDigest Digest => _digest;

    public int Count => _versions.Count;

    public IEnumerable<NodeId> Nodes => _versions.Keys;

    public bool TryGetValue(NodeId node, out ulong version) => _versions.TryGetValue(node, out version);

    public ulong this[NodeId node] => _versions[node];

    public void Set(NodeId node, ulong version)
    {
        Remove(node);
        _versions[node] = version;
        _digest.Add(Wire(node), version);
    }

    public bool Remove(NodeId node)
    {
        if (!_versions.Remove(node, out var old))
        {
            return false;
        }

        _digest.Remove(Wire(node), old);
        return true;
    }

    public void Clear()
    {
        _versions.Clear();
        _digest.Clear();
    }

    private static UInt128 Wire(NodeId id) => new(id.High, id.Low);
}
