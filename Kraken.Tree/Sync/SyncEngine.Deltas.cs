// Triggered updates: store changes become damped, coalesced deltas, acknowledged and retransmitted.
using Google.Protobuf;
using Kraken.Net.Execution;
using Kraken.Net.Sync;
using Kraken.Net.Sync.Proto;
using Kraken.Tree.State;
using Kraken.Tree.State.Proto;

namespace Kraken.Tree.Sync;

public sealed partial class SyncEngine
{
    private readonly Lock _changesLock = new();
    // Per changed record: its view and node, whether the change touches the tree's shape (Cfg parents) and whether it
    // is a Dsc /PhysState change (a parent's power reading of a child).
    private List<(StateView View, NodeId Node, bool Topology, bool Power)> _changes = [];

    // Set while this thread writes a record a neighbour reported: a PhysState in it is that neighbour's word, not a
    // power reading of this node's own.
    [ThreadStatic]
    private static bool t_applyingReport;
    private List<(StateView View, NodeId Node, bool Topology, bool Power)> _draining = [];
    private bool _drainPosted;
    private bool _flushPosted;
    private ITimer? _flushTimer;
    private TimeSpan _flushDue = TimeSpan.MaxValue;
    private ITimer? _retransmitTimer;
    private TimeSpan _retransmitDue = TimeSpan.MaxValue;
    private ITimer? _refreshTimer;

    private void StartTimers()
    {
        _flushTimer = _executor.CreateTimer(_time, static s => ((SyncEngine)s!).Run(SyncWork.FlushTimer), this, Timeout.InfiniteTimeSpan, Timeout.InfiniteTimeSpan);
        _retransmitTimer = _executor.CreateTimer(_time, static s => ((SyncEngine)s!).Run(SyncWork.Retransmit), this, Timeout.InfiniteTimeSpan, Timeout.InfiniteTimeSpan);
        if (_options.Profile == SyncProfile.Kraken)
        {
            _refreshTimer = _executor.CreateTimer(_time, static s => ((SyncEngine)s!).Run(SyncWork.Refresh), this, _options.RefreshInterval, _options.RefreshInterval);
        }
    }

    private void StopTimers()
    {
        _flushTimer?.Dispose();
        _retransmitTimer?.Dispose();
        _refreshTimer?.Dispose();
    }

    /// <summary>Called under the store's write lock: only records what changed and posts one drain.</summary>
    void IStateObserver.OnChanges(ReadOnlySpan<StateChange> changes)
    {
        var schema = _store.Schema;
        lock (_changesLock)
        {
            foreach (var c in changes)
            {
                var topology = c.View == StateView.Cfg
                    && (c.Kind != ChangeKind.Updated || ReferenceEquals(c.Url, schema.ParentId) || ReferenceEquals(c.Url, schema.BackupParents));
                var power = _powersChildren && !t_applyingReport && c.View == StateView.Dsc && c.Kind == ChangeKind.Updated && ReferenceEquals(c.Url, schema.PhysState);
                if (_changes.Count > 0 && _changes[^1] is var last && last.View == c.View && last.Node == c.Node)
                {
                    if ((topology && !last.Topology) || (power && !last.Power))
                    {
                        _changes[^1] = (c.View, c.Node, last.Topology || topology, last.Power || power);
                    }

                    continue;
                }

                _changes.Add((c.View, c.Node, topology, power));
            }

            PostDrainLocked();
        }
    }

    /// <summary>Sends <paramref name="node"/>'s Dsc up again as if it had changed (a version-only copy emits no change).</summary>
    private void Reannounce(NodeId node)
    {
        lock (_changesLock)
        {
            _changes.Add((StateView.Dsc, node, false, false));
            PostDrainLocked();
        }
    }

    /// <summary>Posts one drain of the recorded changes unless one is pending; called under the changes lock.</summary>
    private void PostDrainLocked()
    {
        if (!_drainPosted)
        {
            _drainPosted = true;
            _executor.Post(static s => ((SyncEngine)s!).Run(SyncWork.Drain), this);
        }
    }

    private void DrainChanges()
    {
        lock (_changesLock)
        {
            (_changes, _draining) = (_draining, _changes);
            _drainPosted = false;
        }

        if (_stopped)
        {
            _draining.Clear();
            return;
        }

        var topology = false;
        foreach (var c in _draining)
        {
            topology |= c.Topology;
        }

        if (topology)
        {
            RebuildTopology();
        }

        foreach (var (view, node, _, power) in _draining)
        {
            if (view == StateView.Cfg)
            {
                foreach (var adj in _childAdjacencies)
                {
                    if (adj.IsUp && adj.Flowing.Contains(node))
                    {
                        MarkDirty(adj, node);
                    }
                }
            }
            else
            {
                if (power && _children.TryGetValue(node, out var child) && child.IsUp && PoweredOff(node))
                {
                    // This node's own power reading has just turned to off: the child's daemon cannot be alive, so the
                    // adjacency goes down now rather than at the dead interval (as a link going down ends an OSPF
                    // adjacency). A reading that was already off when the child joined is stale and waits for the next.
                    SyncLog.PoweredOff(_logger, node);
                    MarkDead(child, Now - child.LastHeard);
                }

                if (_parent is not { IsUp: true } p)
                {
                    continue;
                }

                if (p.Flowing.Contains(node))
                {
                    MarkDirty(p, node);
                }
                else if (ReportsAsParent(node))
                {
                    // The first thing this node learnt of a child of its own (powered, registered for boot).
                    UpwardAdd(node);
                }
            }
        }

        _draining.Clear();
    }

    /// <summary>Whether this node's Dsc of <paramref name="node"/> says POWER_OFF (a direct child's PhysState here is this node's power reading).</summary>
    private bool PoweredOff(NodeId node) => _store.Get(StateView.Dsc, node)?.PhysState == PhysState.PowerOff;

    /// <summary>Queues a record for the peer, to go at once unless damping holds it back.</summary>
    private void MarkDirty(Adjacency adj, NodeId node)
    {
        if (_options.Profile == SyncProfile.KrakenGo)
        {
            // The original sends changes only with the next hello.
            return;
        }

        adj.Dirty.Add(node);
        ScheduleFlush(DampDue(adj, node));
    }

    private TimeSpan DampDue(Adjacency adj, NodeId node) =>
        adj.Damping.TryGetValue(node, out var d) ? d.LastSent + d.Hold : TimeSpan.Zero;

    private void Damp(Adjacency adj, NodeId node)
    {
        var now = Now;
        if (adj.Damping.TryGetValue(node, out var d) && now - d.LastSent < _options.DampingMaximum)
        {
            // Sent again soon after the last send: hold the next one back, twice as long each time.
            var hold = d.Hold * 2 < _options.DampingInterval ? _options.DampingInterval : d.Hold * 2;
            d.Hold = hold > _options.DampingMaximum ? _options.DampingMaximum : hold;
        }
        else
        {
            d.Hold = TimeSpan.Zero;
        }

        d.LastSent = now;
        adj.Damping[node] = d;
    }

    private void ScheduleFlush(TimeSpan due)
    {
        if (due <= Now)
        {
            // Coalesce everything that changes within this turn of the executor into one flush.
            if (!_flushPosted)
            {
                _flushPosted = true;
                _executor.Post(static s => ((SyncEngine)s!).Run(SyncWork.Flush), this);
            }
        }
        else if (due < _flushDue)
        {
            _flushDue = due;
            _flushTimer?.Change(Until(due), Timeout.InfiniteTimeSpan);
        }
    }

    private void OnFlushTimer()
    {
        _flushDue = TimeSpan.MaxValue;
        Flush();
    }

    private void Flush()
    {
        _flushPosted = false;
        if (_stopped)
        {
            return;
        }

        var now = Now;
        var next = TimeSpan.MaxValue;
        var ready = new List<NodeId>();
        foreach (var adj in AdjacenciesInOrder())
        {
            if (!adj.IsUp)
            {
                continue;
            }

            if (adj.ControlDirty)
            {
                SendControl(adj);
            }

            if (adj.Dirty.Count == 0)
            {
                continue;
            }

            ready.Clear();
            foreach (var node in adj.Dirty)
            {
                var due = DampDue(adj, node);
                if (due <= now)
                {
                    ready.Add(node);
                }
                else if (due < next)
                {
                    next = due;
                }
            }

            SendRecords(adj, ready, force: false);
        }

        if (next != TimeSpan.MaxValue)
        {
            ScheduleFlush(next);
        }
    }

    /// <summary>
    /// Sends the current record (or a removal) for each node, packed into deltas: datagram-sized for a few
    /// records, stream-sized (up to 1 MiB) for bulk. With <paramref name="force"/> records go even if the peer
    /// should already have that version.
    /// </summary>
    private void SendRecords(Adjacency adj, IReadOnlyList<NodeId> nodes, bool force)
    {
        var budget = nodes.Count > 32
            ? Math.Min(1 << 20, _options.MaxMessageSize / 2)
            : _transport.MaxDatagramSize - FrameHeader.Overhead - 32;
        var delta = new Delta { View = adj.OutView == StateView.Cfg ? View.Cfg : View.Dsc };
        var size = 0;
        foreach (var node in nodes)
        {
            adj.Dirty.Remove(node);
            var record = adj.Flowing.Contains(node) ? _store.Get(adj.OutView, node) : null;
            if (record is null)
            {
                if (adj.Advertised.Remove(node))
                {
                    delta.Removed.Add(ByteString.CopyFrom(node.ToByteArray()));
                    size += NodeId.Size + 2;
                }

                continue;
            }

            if (!force && adj.Advertised.TryGetValue(node, out var sent) && sent == record.Version)
            {
                continue;
            }

            var bytes = NodeRecordCodec.ToBytes(record);
            if (size > 0 && size + bytes.Length + 4 > budget)
            {
                SendDelta(adj, delta);
                delta = new Delta { View = delta.View };
                size = 0;
            }

            delta.Records.Add(ByteString.CopyFrom(bytes));
            size += bytes.Length + 4;
            adj.Advertised.Set(node, record.Version);
            Damp(adj, node);
        }

        if (delta.Records.Count > 0 || delta.Removed.Count > 0)
        {
            SendDelta(adj, delta);
        }
    }

    private void SendDelta(Adjacency adj, Delta delta)
    {
        delta.DeltaId = ++adj.NextDeltaId;
        var payload = delta.ToByteArray();
        var due = Now + _options.RetransmitInterval;
        adj.Unacked[delta.DeltaId] = new PendingDelta(payload, due);

        // Armed before the send: a send that throws must leave the delta where retransmission finds it.
        ScheduleRetransmit(due);
        Send(adj, MessageType.Delta, payload);
    }

    private void ScheduleRetransmit(TimeSpan due)
    {
        if (due < _retransmitDue)
        {
            // Until() never goes below zero: after a slow pass `due` may already lie in the past, and a negative
            // due time would throw with _retransmitDue set, leaving the timer disarmed for good.
            _retransmitDue = due;
            _retransmitTimer?.Change(Until(due), Timeout.InfiniteTimeSpan);
        }
    }

    private void OnRetransmit()
    {
        _retransmitDue = TimeSpan.MaxValue;
        if (_stopped)
        {
            return;
        }

        var now = Now;
        var next = TimeSpan.MaxValue;
        foreach (var adj in AdjacenciesInOrder())
        {
            if (!adj.IsUp)
            {
                continue;
            }

            foreach (var (_, pending) in adj.Unacked)
            {
                if (pending.Due <= now)
                {
                    // Same delta id, new frame sequence: the replay window would drop a resent frame.
                    pending.Retries++;
                    var backoff = TimeSpan.FromTicks(_options.RetransmitInterval.Ticks << Math.Min(pending.Retries, 16));
                    pending.Due = now + (backoff < _options.HelloInterval ? backoff : _options.HelloInterval);
                    Send(adj, MessageType.Delta, pending.Payload);
                }

                if (pending.Due < next)
                {
                    next = pending.Due;
                }
            }
        }

        if (next != TimeSpan.MaxValue)
        {
            ScheduleRetransmit(next);
        }
    }

    private void OnAck(Adjacency adj, Ack ack)
    {
        foreach (var id in ack.DeltaIds)
        {
            adj.Unacked.Remove(id);
        }
    }

    private void OnDelta(Adjacency adj, Delta delta)
    {
        CheckView(adj, delta.View);
        if (delta.Control is { } control)
        {
            OnDeltaControl(adj, control);
        }

        // Decode everything before changing anything: a malformed delta is dropped whole.
        var records = new List<NodeRecord>(delta.Records.Count);
        foreach (var b in delta.Records)
        {
            records.Add(NodeRecordCodec.FromBytes(b.Span, _store.Schema));
        }

        records.RemoveAll(r => !Admit(r, adj.Peer));

        var removed = new List<NodeId>(delta.Removed.Count);
        foreach (var b in delta.Removed)
        {
            removed.Add(b.Length == NodeId.Size ? new NodeId(b.Span) : throw new SyncProtocolException(DropReason.Malformed, "delta: a removed id is not 16 bytes"));
        }

        ApplyReports(() =>
        {
            foreach (var r in records)
            {
                ApplyInbound(adj, r);
            }

            foreach (var id in removed)
            {
                RemoveInbound(adj, id);
            }
        });

        var ack = new Ack();
        ack.DeltaIds.Add(delta.DeltaId);
        Send(adj, MessageType.Ack, ack.ToByteArray());
    }

    private void CheckView(Adjacency adj, View view)
    {
        var expected = adj.InView == StateView.Cfg ? View.Cfg : View.Dsc;
        if (view != expected)
        {
            throw new SyncProtocolException(DropReason.Malformed, $"{adj.Role} {adj.Peer} sent {view} records; only {expected} flows this way");
        }
    }

    /// <summary>Applies one received record unless an equal or newer version of it came before.</summary>
    /// <summary>
    /// Applies what a neighbour reported in one store transaction. The store tells its observers at the end of the
    /// transaction, on this thread: the flag marks those changes as the neighbour's word for <see cref="IStateObserver.OnChanges"/>.
    /// </summary>
    private void ApplyReports(Action apply)
    {
        var outer = t_applyingReport;
        t_applyingReport = true;
        try
        {
            _store.Batch(_ => apply());
        }
        finally
        {
            t_applyingReport = outer;
        }
    }

    private void ApplyInbound(Adjacency adj, NodeRecord record)
    {
        var known = adj.Received.TryGetValue(record.Id, out var had);
        if (known && record.Version <= had)
        {
            return;
        }

        adj.Received.Set(record.Id, record.Version);
        if (adj.Role == AdjacencyRole.Parent)
        {
            // The parent is the authority for Cfg.
            ApplyCfg(record);
            return;
        }

        if (record.Id == Self)
        {
            SyncLog.RecordIgnored(_logger, record.Id, adj.Peer, "a node's own Dsc is never taken from a child");
            return;
        }

        if (!_store.Contains(record.Id))
        {
            SyncLog.RecordIgnored(_logger, record.Id, adj.Peer, "not in this node's Cfg");
            return;
        }

        // The report of the child the node is attached to wins: its Dsc /ParentId names that child, or a node that
        // child carries. Otherwise the child that started reporting the node most recently owns it; reports from the
        // others are stale until the owner stops reporting it.
        var owner = _dscOwner.GetValueOrDefault(record.Id);
        var claims = record.ParentId is { } attached && (attached == adj.Peer || (_dscOwner.TryGetValue(attached, out var via) && ReferenceEquals(via, adj)));
        if (owner is not null && !ReferenceEquals(owner, adj) && owner.IsUp && known && !claims)
        {
            return;
        }

        if (!ReferenceEquals(owner, adj))
        {
            _dscOwner[record.Id] = adj;
            SetLost(record.Id, false);
            UpwardAdd(record.Id);
        }

        if (record.Id == adj.Peer)
        {
            // A direct child's /RunState and /ParentId are the parent's view of the adjacency; what this node's own
            // modules discovered of it (power, PXE), where they did, is theirs to say. Where they have not (a backup
            // parent never powered the child), the child's own word stands.
            var local = _store.GetRequired(StateView.Dsc, record.Id);
            for (var i = 0; i < _parentView.Length; i++)
            {
                var url = _parentView[i];
                var mine = local.Get(url);
                if (i < 2 || mine.IsSet)
                {
                    record = record.With(url, mine);
                }
            }
        }

        _store.Replace(StateView.Dsc, record);
    }

    /// <summary>
    /// False, counted and logged, for a received record that breaks the state model's rules (a value too long, a
    /// control character, a bad host name, a record too large). A sender checks its writes, so this should not
    /// happen; should it, the record is left out and this node keeps the copy it had, as if it had not come.
    /// </summary>
    private bool Admit(NodeRecord record, NodeId peer)
    {
        if (ValueRules.TryCheckRecord(record, out var url, out var error))
        {
            return true;
        }

        Counters.OnRecordRefused();
        SyncLog.RecordRefused(_logger, record.Id, peer, url!, error!);
        return false;
    }

    private void RemoveInbound(Adjacency adj, NodeId id)
    {
        if (!adj.Received.Remove(id))
        {
            return;
        }

        if (adj.Role == AdjacencyRole.Parent)
        {
            // The node left this node's subtree.
            if (id != Self)
            {
                _store.Delete(id);
            }
        }
        else if (_dscOwner.TryGetValue(id, out var owner) && ReferenceEquals(owner, adj))
        {
            _dscOwner.Remove(id);
            UpwardRemove(id);
        }
    }
}
