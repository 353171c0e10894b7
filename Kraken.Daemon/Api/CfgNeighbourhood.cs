// Which stored Cfg records a node written through the API must be checked against, found without a full scan.
using Kraken.Tree.State;

namespace Kraken.Daemon.Api;

/// <summary>
/// A written node is validated (by <see cref="Tree.StateFiles.StateFileReader"/>) against the nodes already held:
/// its parents must exist, its parent chain must not loop, and its MACs and addresses must be unique. Passing the
/// whole store costs O(nodes) per write (128 ms at 100,000 nodes); this finds the few records that matter: the
/// parent chains of the written nodes and the holders of their MACs and addresses, from an index kept current
/// from the store's change stream. The observer only queues ids; the index catches up when it is queried.
/// </summary>
public sealed class CfgNeighbourhood : IStateObserver, IDisposable
{
    private const int MaxChain = 256;

    private readonly StateStore _store;
    private readonly System.Collections.Concurrent.ConcurrentQueue<NodeId> _dirty = new();
    private readonly Lock _lock = new();
    private readonly Dictionary<(ValueKind, ulong), HashSet<NodeId>> _holders = [];
    private readonly Dictionary<NodeId, (ValueKind, ulong)[]> _keys = [];
    private readonly IDisposable _subscription;

    public CfgNeighbourhood(StateStore store)
    {
        ArgumentNullException.ThrowIfNull(store);
        _store = store;

        // Subscribe before the scan, so no change falls between them; a node queued twice is harmless.
        _subscription = store.Subscribe(this);
        foreach (var id in store.Ids)
        {
            _dirty.Enqueue(id);
        }
    }

    public void OnChanges(ReadOnlySpan<StateChange> changes)
    {
        var last = default(NodeId);
        foreach (var c in changes)
        {
            if (c.View == StateView.Cfg && c.Node != last)
            {
                _dirty.Enqueue(c.Node);
                last = c.Node;
            }
        }
    }

    /// <summary>The stored Cfg records that <paramref name="candidates"/> must be validated against.</summary>
    public List<NodeRecord> Related(IEnumerable<NodeRecord> candidates)
    {
        ArgumentNullException.ThrowIfNull(candidates);
        var result = new Dictionary<NodeId, NodeRecord>();
        lock (_lock)
        {
            CatchUp();
            foreach (var candidate in candidates)
            {
                foreach (var key in Keys(candidate))
                {
                    if (_holders.TryGetValue(key, out var holders))
                    {
                        foreach (var holder in holders)
                        {
                            Add(holder);
                        }
                    }
                }

                var chain = new Queue<NodeId>(candidate.Parents());
                for (var steps = 0; chain.Count > 0 && steps < MaxChain; steps++)
                {
                    var id = chain.Dequeue();
                    if (!result.ContainsKey(id) && Add(id) is { } parent)
                    {
                        foreach (var p in parent.Parents())
                        {
                            chain.Enqueue(p);
                        }
                    }
                }
            }
        }

        return [.. result.Values];

        NodeRecord? Add(NodeId id)
        {
            var record = _store.Get(StateView.Cfg, id);
            if (record is not null)
            {
                result[id] = record;
            }

            return record;
        }
    }

    public void Dispose() => _subscription.Dispose();

    private void CatchUp()
    {
        while (_dirty.TryDequeue(out var id))
        {
            if (_keys.Remove(id, out var old))
            {
                foreach (var key in old)
                {
                    if (_holders.TryGetValue(key, out var set) && set.Remove(id) && set.Count == 0)
                    {
                        _holders.Remove(key);
                    }
                }
            }

            if (_store.Get(StateView.Cfg, id) is { } record)
            {
                var keys = Keys(record).ToArray();
                if (keys.Length > 0)
                {
                    _keys[id] = keys;
                    foreach (var key in keys)
                    {
                        if (!_holders.TryGetValue(key, out var set))
                        {
                            _holders[key] = set = [];
                        }

                        set.Add(id);
                    }
                }
            }
        }
    }

    /// <summary>The values that must be unique across nodes: every IPv4-extension MAC and interface address (as the state-file checks).</summary>
    private static IEnumerable<(ValueKind, ulong)> Keys(NodeRecord record)
    {
        foreach (var (url, value) in record.Values())
        {
            if (url.ExtensionName != StandardExtensions.IPv4)
            {
                continue;
            }

            if (value.Kind == ValueKind.Mac)
            {
                yield return (ValueKind.Mac, value.Mac);
            }
            else if (value.Kind == ValueKind.IPv4 && url.Segment == "Ip")
            {
                yield return (ValueKind.IPv4, value.IPv4);
            }
        }
    }
}
