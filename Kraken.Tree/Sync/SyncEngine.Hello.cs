// Hellos: one tick per hello interval sends a hello to every neighbour and checks them for silence.
using Google.Protobuf;
using Kraken.Net.Sync;
using Kraken.Net.Sync.Proto;
using Kraken.Tree.State;

namespace Kraken.Tree.Sync;

public sealed partial class SyncEngine
{
    // Adjacencies by this side's id of them: compact hellos name the adjacency by it, not by the sender's node id.
    private readonly Dictionary<uint, Adjacency> _byLocalId = [];
    private uint _nextLocalId;

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
        var deadline = TimeSpan.MaxValue;
        if (_parent is { IsUp: true } p)
        {
            Tick(p);
            deadline = Earliest(p, deadline);
        }

        foreach (var adj in _childAdjacencies)
        {
            if (adj.IsUp)
            {
                Tick(adj);
                deadline = Earliest(adj, deadline);
            }
        }

        _tickTimer?.Change(NextTickDelay(deadline), Timeout.InfiniteTimeSpan);
    }

    /// <summary>The earlier of <paramref name="deadline"/> and the moment <paramref name="adj"/>, if still up, would have been silent for its dead interval.</summary>
    private TimeSpan Earliest(Adjacency adj, TimeSpan deadline)
    {
        var own = adj.LastHeard + DeadIntervalOf(adj);
        return adj.IsUp && own < deadline ? own : deadline;
    }

    /// <summary>
    /// The silence after which <paramref name="adj"/> is dead: the configured dead interval, stretched on a lossy link
    /// to one hello more than the fewest hellos that are all lost with odds of at most <see cref="SyncOptions.FalseDeathOdds"/>
    /// at the measured loss rate, and capped at <see cref="SyncOptions.MaxDeadInterval"/>. A clean link keeps the
    /// configured interval; at 10 % loss with 5 s hellos it is 40 s, at 30 % 75 s (docs/protocol.md). The original's profile
    /// keeps a fixed interval, as the original does.
    /// </summary>
    internal TimeSpan DeadIntervalOf(Adjacency adj)
    {
        var configured = _options.DeadInterval;
        var max = _options.EffectiveMaxDeadInterval;
        var rate = adj.Loss.Rate;
        if (rate <= 0 || max <= configured || _options.Profile == SyncProfile.KrakenGo)
        {
            return configured;
        }

        // One hello more than the run that must be lost: with the tick jitter a peer's hellos can come slightly
        // further apart than the interval, so n intervals of silence may hold only n - 1 of them.
        var hellos = Math.Ceiling(Math.Log(SyncOptions.FalseDeathOdds) / Math.Log(Math.Min(rate, 0.95))) + 1;
        var stretched = _options.HelloInterval * hellos;
        return stretched <= configured ? configured : stretched >= max ? max : stretched;
    }

    /// <summary>The dead interval in force on the adjacency with <paramref name="peer"/>; on the engine's executor.</summary>
    internal TimeSpan DeadIntervalOf(NodeId peer) =>
        _parent is { } p && p.Peer == peer ? DeadIntervalOf(p)
        : _children.TryGetValue(peer, out var child) ? DeadIntervalOf(child)
        : throw new KeyNotFoundException($"no adjacency with {peer}");

    private void Tick(Adjacency adj)
    {
        var silence = Now - adj.LastHeard;
        if (silence >= DeadIntervalOf(adj))
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

    /// <summary>
    /// The steady-state message: a 25-byte compact hello (adjacency id, low half of the sequence, 32-bit digest,
    /// 96-bit MAC), or a full-frame hello to a peer that gave no adjacency id at join. Nothing is allocated.
    /// </summary>
    private void SendHello(Adjacency adj)
    {
        var pending = adj.Unacked.Count > 0 || adj.Dirty.Count > 0;
        if (adj.RemoteId != 0)
        {
            Span<byte> frame = stackalloc byte[CompactHello.Size];
            var sequence = ++adj.SendSequence;
            var n = CompactHello.Write(frame, adj.RemoteId, sequence, adj.Advertised.Digest.Short(sequence), pending, _selfWire, adj.Mac);
            _transport.SendDatagram(adj.EndPoint, frame[..n]);
            Counters.OnSent(MessageType.Hello, n);
            return;
        }

        Span<byte> payload = stackalloc byte[HelloCodec.MaxSize];
        var hello = new HelloPayload(adj.Advertised.Digest.Value, adj.Advertised.Digest.Count, pending);
        var length = HelloCodec.Write(payload, hello);
        Send(adj, MessageType.Hello, payload[..length]);
    }

    /// <summary>
    /// A compact hello, checked in the order of a full frame: well-formed [malformed], a live adjacency with that
    /// id [unknown sender], the MAC over the reconstructed 64-bit sequence and the peer's id [bad MAC], the
    /// replay window [replay].
    /// </summary>
    private void ReceiveCompactHello(ReadOnlySpan<byte> datagram)
    {
        CompactHelloFields hello;
        try
        {
            hello = CompactHello.Read(datagram);
        }
        catch (SyncProtocolException ex)
        {
            Drop(ex.Reason, MessageType.Hello, ex.Message);
            return;
        }

        if (!_byLocalId.TryGetValue(hello.AdjacencyId, out var adj) || !adj.IsUp)
        {
            Drop(DropReason.UnknownSender, MessageType.Hello, $"no adjacency with id {hello.AdjacencyId:x8}");
            return;
        }

        var sequence = adj.Window.Reconstruct(hello.SequenceLow);
        var peer = Adjacency.Wire(adj.Peer);
        if (!CompactHello.Verify(datagram, sequence, peer, adj.Mac))
        {
            // Reconstruction puts low bits from behind the window into the next 2^32 block. A genuine old hello
            // verifies in the block before: count it as the replay it is, not as a forgery.
            var older = sequence >= 1UL << 32 ? sequence - (1UL << 32) : 0;
            if (older != 0 && CompactHello.Verify(datagram, older, peer, adj.Mac))
            {
                Drop(DropReason.Replay, MessageType.Hello, $"sequence {older} from {adj.Peer}, behind the window (highest {adj.Window.Highest})");
            }
            else
            {
                Drop(DropReason.BadMac, MessageType.Hello, $"compact hello for {adj.Peer}");
            }

            return;
        }

        var highest = adj.Window.Highest;
        if (!adj.Window.Accept(sequence))
        {
            Drop(DropReason.Replay, MessageType.Hello, $"sequence {sequence} from {adj.Peer}, highest {adj.Window.Highest}");
            return;
        }

        adj.Loss.OnFrame(sequence, highest);

        Counters.OnReceived(MessageType.Hello, datagram.Length);
        adj.LastHeard = Now;
        adj.HeardSinceAccept = true;
        OnHello(adj, hello.Pending, hello.Digest == adj.Received.Digest.Short(sequence));
        MaybeFull(adj);
    }

    /// <summary>A hello from <paramref name="adj"/>: when nothing is pending at the peer yet the digests disagree, repair.</summary>
    private void OnHello(Adjacency adj, bool pending, bool agrees)
    {
        if (pending || agrees)
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

    /// <summary>A fresh id for a new adjacency: nonzero, and neither in use nor held by the join attempt.</summary>
    private uint NewLocalId()
    {
        while (true)
        {
            var id = unchecked(++_nextLocalId);
            if (id != 0 && !_byLocalId.ContainsKey(id) && _join?.LocalId != id)
            {
                return id;
            }
        }
    }

    private void Register(Adjacency adj) => _byLocalId[adj.LocalId] = adj;

    private void Unregister(Adjacency adj)
    {
        if (_byLocalId.TryGetValue(adj.LocalId, out var current) && ReferenceEquals(current, adj))
        {
            _byLocalId.Remove(adj.LocalId);
        }
    }

    /// <summary>Test hook: from now on hellos to <paramref name="peer"/> go as full frames, as to a peer that gave no adjacency id.</summary>
    internal void UseFullHellos(NodeId peer)
    {
        if (Find(peer) is { } adj)
        {
            adj.RemoteId = 0;
        }
    }

    /// <summary>Test hook: moves the send counter towards <paramref name="peer"/> (e.g. to just below 2^32).</summary>
    internal void SetSendSequence(NodeId peer, ulong sequence)
    {
        if (Find(peer) is { } adj)
        {
            adj.SendSequence = sequence;
        }
    }

    /// <summary>Test hook: the highest sequence number accepted from <paramref name="peer"/>.</summary>
    internal ulong HighestReceived(NodeId peer) => Find(peer)?.Window.Highest ?? 0;

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

        // A record left out for breaking the rules is still present: the copy this node has stays.
        var present = new HashSet<NodeId>(records.Select(r => r.Id));
        records.RemoveAll(r => !Admit(r, adj.Peer));
        var gone = Sorted(adj.Received.Nodes.Where(id => !present.Contains(id)));
        ApplyReports(() =>
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
