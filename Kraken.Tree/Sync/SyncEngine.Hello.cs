// Hellos: one tick per hello interval sends a hello to every neighbour and checks them for silence.
using Google.Protobuf;
using Kraken.Net.Sync;
using Kraken.Net.Sync.Proto;
using Kraken.Tree.State;

namespace Kraken.Tree.Sync;

public sealed partial class SyncEngine
{
    private NodeId[] _childOrder = [];

    // The child adjacencies in _childOrder's order, so that walking them needs no dictionary lookups.
    private Adjacency[] _childAdjacencies = [];

    /// <summary>Parent first, then children by id: a fixed order keeps runs reproducible.</summary>
    private IEnumerable<Adjacency> AdjacenciesInOrder()
    {
        if (_parent is not null)
        {
            yield return _parent;
        }

        foreach (var adj in _childAdjacencies)
        {
            yield return adj;
        }
    }

    private void ChildrenChanged()
    {
        var order = _children.Keys.ToArray();
        Array.Sort(order);
        _childOrder = order;
        _childAdjacencies = [.. order.Select(id => _children[id])];
    }

    private void OnTick()
    {
        if (_stopped)
        {
            return;
        }

        SweepPendingJoins();
        if (_parent is { IsUp: true } p)
        {
            Tick(p);
        }

        foreach (var adj in _childAdjacencies)
        {
            if (adj.IsUp)
            {
                Tick(adj);
            }
        }

        _tickTimer?.Change(NextTickDelay(), Timeout.InfiniteTimeSpan);
    }

    private void Tick(Adjacency adj)
    {
        var silence = Now - adj.LastHeard;
        if (silence >= _options.DeadInterval)
        {
            MarkDead(adj, silence);
            return;
        }

        if (_options.Profile == SyncProfile.Kraken)
        {
            SendHello(adj);
        }
        else
        {
            SendFullHello(adj);
        }
    }

    /// <summary>The steady-state message: header, a 12-byte digest payload and the MAC; nothing is allocated.</summary>
    private void SendHello(Adjacency adj)
    {
        Span<byte> payload = stackalloc byte[HelloCodec.MaxSize];
        var hello = new HelloPayload(adj.Advertised.Digest.Value, adj.Advertised.Digest.Count, adj.Unacked.Count > 0 || adj.Dirty.Count > 0);
        var n = HelloCodec.Write(payload, hello);
        Send(adj, MessageType.Hello, payload[..n]);
    }

    private void OnHello(Adjacency adj, in HelloPayload hello)
    {
        if (hello.Pending || (hello.Digest == adj.Received.Digest.Value && hello.Count == adj.Received.Digest.Count))
        {
            return;
        }

        // The peer has everything acknowledged, yet our tables differ: ask for repair, at most once per hello interval.
        if (adj.LastRepairRequest != TimeSpan.MinValue && Now - adj.LastRepairRequest < _options.HelloInterval)
        {
            return;
        }

        adj.LastRepairRequest = Now;
        SyncLog.Repair(_logger, adj.Peer, adj.Received.Count);
        var request = new RepairRequest();
        foreach (var id in Sorted(adj.Received.Nodes))
        {
            request.Known.Add(new NodeVersion { Node = ByteString.CopyFrom(id.ToByteArray()), Version = adj.Received[id] });
        }

        Send(adj, MessageType.RepairRequest, request.ToByteArray());
    }

    /// <summary>
    /// Answers a repair request: takes the peer's table as what it has, then sends every record whose version
    /// differs and a removal for every id that no longer flows.
    /// </summary>
    private void OnRepairRequest(Adjacency adj, RepairRequest request)
    {
        var known = new Dictionary<NodeId, ulong>(request.Known.Count);
        foreach (var nv in request.Known)
        {
            if (nv.Node.Length != NodeId.Size)
            {
                throw new SyncProtocolException(DropReason.Malformed, "repair request: a node id is not 16 bytes");
            }

            known[new NodeId(nv.Node.Span)] = nv.Version;
        }

        adj.Advertised.Clear();
        foreach (var (id, version) in known)
        {
            adj.Advertised.Set(id, version);
        }

        var nodes = new HashSet<NodeId>(adj.Flowing);
        nodes.UnionWith(known.Keys);
        SendRecords(adj, Sorted(nodes), force: false);
    }

    /// <summary>
    /// Test hook: forgets that <paramref name="node"/>'s record was received from <paramref name="peer"/>, as if
    /// the update had been lost, so the next hello shows a digest mismatch. Run it on the executor.
    /// </summary>
    internal void ForgetReceived(NodeId peer, NodeId node)
    {
        if (Find(peer) is { } adj)
        {
            adj.Received.Remove(node);
        }
    }

    private void OnRefresh()
    {
        if (_stopped)
        {
            return;
        }

        foreach (var adj in AdjacenciesInOrder().ToList())
        {
            if (adj.IsUp)
            {
                var nodes = new HashSet<NodeId>(adj.Flowing);
                nodes.UnionWith(adj.Advertised.Nodes);
                SendRecords(adj, Sorted(nodes), force: true);
            }
        }
    }

    // ---- Compatibility profile: whole records in every hello ----

    private void SendFullHello(Adjacency adj)
    {
        var hello = new FullHello { View = adj.OutView == StateView.Cfg ? View.Cfg : View.Dsc };
        foreach (var id in Sorted(adj.Flowing))
        {
            if (_store.Get(adj.OutView, id) is { } record)
            {
                hello.Records.Add(ByteString.CopyFrom(NodeRecordCodec.ToBytes(record)));
            }
        }

        Send(adj, MessageType.FullHello, hello.ToByteArray());
    }

    private void OnFullHello(Adjacency adj, FullHello hello)
    {
        CheckView(adj, hello.View);
        var records = new List<NodeRecord>(hello.Records.Count);
        foreach (var b in hello.Records)
        {
            records.Add(NodeRecordCodec.FromBytes(b.Span, _store.Schema));
        }

        var present = new HashSet<NodeId>(records.Select(r => r.Id));
        var gone = Sorted(adj.Received.Nodes.Where(id => !present.Contains(id)));
        _store.Batch(_ =>
        {
            foreach (var r in records)
            {
                ApplyInbound(adj, r);
            }

            foreach (var id in gone)
            {
                RemoveInbound(adj, id);
            }
        });
    }
}
