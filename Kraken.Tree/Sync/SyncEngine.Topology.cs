// Who holds what: each child's subtree (from Cfg parent links) and the set of Dsc records this node reports up.
using Kraken.Tree.State;

namespace Kraken.Tree.Sync;

public sealed partial class SyncEngine
{
    private readonly Dictionary<NodeId, List<NodeId>> _childrenOf = [];

    // Which child adjacency carries each node's Dsc. When two children report the same node (it failed over
    // from one to the other), the one that started reporting it last wins.
    private readonly Dictionary<NodeId, Adjacency> _dscOwner = [];

    // Nodes this node last heard of through a child that died, and that no live child reports since: what is lost.
    private readonly HashSet<NodeId> _lost = [];
    private NodeId[] _lostSnapshot = [];

    /// <summary>
    /// The nodes this node no longer hears of: a child that died, and the nodes below it that it reported and that
    /// no other child reports since (no backup parent took them over). Their last known Dsc stays; this says it is
    /// stale. Sorted; safe to read from any thread.
    /// </summary>
    public IReadOnlyList<NodeId> Lost => Volatile.Read(ref _lostSnapshot);

    private void SetLost(NodeId node, bool lost)
    {
        if (lost ? _lost.Add(node) : _lost.Remove(node))
        {
            var snapshot = _lost.ToArray();
            Array.Sort(snapshot);
            Volatile.Write(ref _lostSnapshot, snapshot);
        }
    }

    /// <summary>Rebuilds the parent -> children index from Cfg and re-evaluates what flows to each child.</summary>
    private void RebuildTopology()
    {
        _childrenOf.Clear();
        foreach (var record in _store.Snapshot(StateView.Cfg))
        {
            foreach (var p in record.Parents())
            {
                if (!_childrenOf.TryGetValue(p, out var list))
                {
                    _childrenOf[p] = list = [];
                }

                list.Add(record.Id);
            }
        }

        foreach (var peer in _childOrder)
        {
            var adj = _children[peer];
            if (!adj.IsUp)
            {
                continue;
            }

            var next = SubtreeOf(peer);
            foreach (var id in adj.Flowing)
            {
                if (!next.Contains(id))
                {
                    MarkDirty(adj, id);
                }
            }

            foreach (var id in next)
            {
                if (!adj.Flowing.Contains(id))
                {
                    MarkDirty(adj, id);
                }
            }

            adj.Flowing = next;
        }

        foreach (var node in _lost.Where(n => !_store.Contains(n)).ToList())
        {
            SetLost(node, false);
        }

        // Upward: this node's own children by Cfg flow up whether or not they have joined (a booting child's power
        // and PXE state is news for the tiers above); a node that is no longer one stops, unless a child reports it.
        if (_parent is { IsUp: true } parentAdj)
        {
            if (_childrenOf.TryGetValue(Self, out var mine))
            {
                foreach (var kid in mine)
                {
                    if (ReportsAsParent(kid))
                    {
                        UpwardAdd(kid);
                    }
                }
            }

            List<NodeId>? gone = null;
            foreach (var id in parentAdj.Flowing)
            {
                if (id != Self && !IsCfgChild(id) && !_children.ContainsKey(id) && !(_dscOwner.TryGetValue(id, out var o) && o.IsUp))
                {
                    (gone ??= []).Add(id);
                }
            }

            foreach (var id in gone ?? [])
            {
                UpwardRemove(id);
            }
        }
    }

    /// <summary>True when <paramref name="node"/>'s Cfg names this node as its parent (not a backup parent: those report only what fails over to them).</summary>
    private bool IsCfgChild(NodeId node) => node != Self && _store.Get(StateView.Cfg, node)?.ParentId == Self;

    /// <summary>
    /// A child of this node's own (by Cfg) whose Dsc this node holds something of: it reports that up whether or not
    /// the child has joined. Ignorance is not reported: a parent that just restarted does not overwrite, above it,
    /// what was last known of a child that is still running.
    /// </summary>
    private bool ReportsAsParent(NodeId node) => IsCfgChild(node) && _store.Get(StateView.Dsc, node) is { } dsc && dsc.Values().Any();

    /// <summary>
    /// A child's subtree: the child and every node whose Cfg names, as parent or backup parent, a node already
    /// in the subtree. Backup children are included so that a backup parent can admit them when they fail over.
    /// Then, as records without their subtrees, the backup parents outside it of the child and of the nodes its
    /// subtree boots: their addresses are what a node booted down there needs to fail over (the
    /// <c>kraken.parent</c> list its parent renders), and nothing else in the subtree holds them.
    /// </summary>
    private HashSet<NodeId> SubtreeOf(NodeId child)
    {
        var result = new HashSet<NodeId> { child };
        var queue = new Queue<NodeId>();
        queue.Enqueue(child);
        while (queue.TryDequeue(out var n))
        {
            if (_childrenOf.TryGetValue(n, out var kids))
            {
                foreach (var k in kids)
                {
                    if (k != Self && result.Add(k))
                    {
                        queue.Enqueue(k);
                    }
                }
            }
        }

        List<NodeId>? stubs = null;
        foreach (var n in result)
        {
            if (_store.Get(StateView.Cfg, n) is not { BackupParents.IsEmpty: false } cfg
                || (n != child && (cfg.ParentId is not { } parent || !result.Contains(parent))))
            {
                continue;
            }

            foreach (var backup in cfg.BackupParents)
            {
                if (backup != Self && !result.Contains(backup) && _store.Contains(backup))
                {
                    (stubs ??= []).Add(backup);
                }
            }
        }

        if (stubs is not null)
        {
            result.UnionWith(stubs);
        }

        return result;
    }

    /// <summary>
    /// The nodes whose Dsc this node reports to its parent: itself, its children (those its Cfg names, joined or not,
    /// once it knows something of them: the parent of a booting node is the one that sees it boot), and what its
    /// joined children carry.
    /// </summary>
    private HashSet<NodeId> UpwardSet()
    {
        var set = new HashSet<NodeId> { Self };
        foreach (var peer in _children.Keys)
        {
            set.Add(peer);
        }

        if (_childrenOf.TryGetValue(Self, out var mine))
        {
            foreach (var kid in mine)
            {
                if (ReportsAsParent(kid))
                {
                    set.Add(kid);
                }
            }
        }

        foreach (var (node, owner) in _dscOwner)
        {
            if (owner.IsUp)
            {
                set.Add(node);
            }
        }

        return set;
    }

    private void UpwardAdd(NodeId node)
    {
        if (_parent is { IsUp: true } p && p.Flowing.Add(node))
        {
            MarkDirty(p, node);
        }
    }

    private void UpwardRemove(NodeId node)
    {
        if (node == Self || _children.ContainsKey(node) || IsCfgChild(node) || (_dscOwner.TryGetValue(node, out var o) && o.IsUp))
        {
            return;
        }

        if (_parent is { IsUp: true } p && p.Flowing.Remove(node))
        {
            MarkDirty(p, node);
        }
    }

    /// <summary>Forgets every node <paramref name="adj"/> carried (a dead or replaced child); they stop flowing up.</summary>
    private void ReleaseAll(Adjacency adj)
    {
        var released = new List<NodeId>();
        foreach (var (node, owner) in _dscOwner)
        {
            if (ReferenceEquals(owner, adj))
            {
                released.Add(node);
            }
        }

        released.Sort();
        foreach (var node in released)
        {
            _dscOwner.Remove(node);
            UpwardRemove(node);
            SetLost(node, true);
        }
    }
}
