// Checks that need the whole cluster: unique ids, MACs and addresses; parents that exist; no cycles.
using Kraken.Tree.State;

namespace Kraken.Tree.StateFiles;

public sealed partial class StateFileReader
{
    private void CheckAcrossNodes(List<(int Index, NodeRecord Record)> nodes, IEnumerable<NodeRecord>? existing)
    {
        var byId = new Dictionary<NodeId, (int Index, NodeRecord Record)>();
        foreach (var (i, n) in nodes)
        {
            if (byId.TryGetValue(n.Id, out var first))
            {
                Error(i, n.Id, "/Id", $"duplicate id: also nodes[{first.Index}]");
                continue;
            }

            byId[n.Id] = (i, n);
        }

        // Nodes already held count for parent references and uniqueness, unless the file replaces them.
        var known = new Dictionary<NodeId, NodeRecord>();
        foreach (var e in existing ?? [])
        {
            if (!byId.ContainsKey(e.Id))
            {
                known[e.Id] = e;
            }
        }

        foreach (var (id, (index, record)) in byId)
        {
            foreach (var parent in record.Parents())
            {
                if (!byId.ContainsKey(parent) && !known.ContainsKey(parent))
                {
                    var url = parent == record.ParentId ? "/ParentId" : "/BackupParents";
                    Error(index, id, url, $"parent {parent} is not in the file nor already known");
                }
            }
        }

        CheckCycles(byId, known);
        CheckUniqueAddresses(nodes, byId, known);
    }

    private void CheckCycles(Dictionary<NodeId, (int Index, NodeRecord Record)> byId, Dictionary<NodeId, NodeRecord> known)
    {
        NodeId? ParentOf(NodeId id) => byId.TryGetValue(id, out var n) ? n.Record.ParentId : known.TryGetValue(id, out var k) ? k.ParentId : null;

        var reported = new HashSet<NodeId>();
        foreach (var (id, (index, _)) in byId.OrderBy(kv => kv.Value.Index))
        {
            var seen = new HashSet<NodeId> { id };
            var current = ParentOf(id);
            while (current is { } p)
            {
                if (p == id)
                {
                    if (reported.Add(id))
                    {
                        Error(index, id, "/ParentId", "the parent chain loops back to this node");
                    }

                    break;
                }

                if (!seen.Add(p))
                {
                    break;
                }

                current = ParentOf(p);
            }
        }
    }

    private void CheckUniqueAddresses(List<(int Index, NodeRecord Record)> nodes, Dictionary<NodeId, (int Index, NodeRecord Record)> byId, Dictionary<NodeId, NodeRecord> known)
    {
        var macs = new Dictionary<ulong, (NodeId Node, string Url)>();
        var ips = new Dictionary<uint, (NodeId Node, string Url)>();

        void Collect(NodeRecord record, int index)
        {
            foreach (var (url, value) in record.Values())
            {
                if (url.ExtensionName != StandardExtensions.IPv4)
                {
                    continue;
                }

                if (value.Kind == ValueKind.Mac)
                {
                    if (macs.TryGetValue(value.Mac, out var other) && other.Node != record.Id)
                    {
                        if (index >= 0)
                        {
                            Error(index, record.Id, url.Path, $"MAC {value} is also used by {other.Node} at {other.Url}");
                        }
                    }
                    else
                    {
                        macs[value.Mac] = (record.Id, url.Path);
                    }
                }
                else if (value.Kind == ValueKind.IPv4 && url.Segment == "Ip")
                {
                    if (ips.TryGetValue(value.IPv4, out var other) && other.Node != record.Id)
                    {
                        if (index >= 0)
                        {
                            Error(index, record.Id, url.Path, $"address {value} is also used by {other.Node} at {other.Url}");
                        }
                    }
                    else
                    {
                        ips[value.IPv4] = (record.Id, url.Path);
                    }
                }
            }
        }

        foreach (var k in known.Values)
        {
            Collect(k, -1);
        }

        foreach (var (i, n) in nodes)
        {
            if (byId.TryGetValue(n.Id, out var entry) && entry.Index == i)
            {
                Collect(n, i);
            }
        }
    }
}
