// The cluster control state (freeze): set at the root, carried down in JoinAccepts and deltas, followed at every tier.
using Kraken.Net.Execution;
using Kraken.Net.Sync.Proto;

namespace Kraken.Tree.Sync;

public sealed partial class SyncEngine
{
    private readonly Lock _controlLock = new();
    private ClusterControl _control;

    /// <summary>The cluster's control state as this node knows it (any thread).</summary>
    public ClusterControl Control
    {
        get
        {
            lock (_controlLock)
            {
                return _control;
            }
        }
    }

    /// <summary>
    /// Raised on the executor when the cluster's control state changes: at the root by <see cref="SetFrozenAsync"/>,
    /// elsewhere when the parent's JoinAccept or a delta brings a new one. A join brings its state before the Cfg of
    /// the subtree, so a node that joins a frozen cluster hears of the freeze before anything it could act on.
    /// </summary>
    public event Action<ClusterControl>? ControlChanged;

    /// <summary>
    /// The root's freeze and thaw: a new version of the control state, sent down to every child, which passes it on.
    /// Completes once applied here (delivery below is the protocol's: acknowledged, retransmitted, and carried by
    /// every later join). Throws at a child: the cluster's control state is authored at the root.
    /// </summary>
    public Task<ClusterControl> SetFrozenAsync(bool frozen)
    {
        if (_options.Parents.Count > 0)
        {
            throw new InvalidOperationException("Only the root sets the cluster's control state; a child takes its parent's.");
        }

        return _executor.InvokeAsync(() =>
        {
            // Versions only grow, across restarts too: the clock's ticks are larger than any earlier version.
            var current = Control;
            var version = Math.Max(current.Version + 1, (ulong)_time.GetUtcNow().UtcTicks);
            ApplyControl(new ClusterControl(version, frozen), fromJoin: false, source: "root");
            return Control;
        });
    }

    /// <summary>
    /// Takes a control state: from a join unconditionally (the parent is the authority, even after it restarted with
    /// an older clock), otherwise only a newer version (a retransmitted delta may arrive after a newer one).
    /// </summary>
    private void ApplyControl(ClusterControl control, bool fromJoin, string source = "parent")
    {
        lock (_controlLock)
        {
            if (control == _control || (!fromJoin && control.Version <= _control.Version))
            {
                return;
            }

            _control = control;
        }

        SyncLog.Control(_logger, source, control.Frozen ? "frozen" : "thawed", control.Version);
        ControlChanged?.Invoke(control);
        var any = false;
        foreach (var adj in _childAdjacencies)
        {
            if (adj.IsUp)
            {
                adj.ControlDirty = true;
                any = true;
            }
        }

        if (any)
        {
            ScheduleFlush(TimeSpan.Zero);
        }
    }

    /// <summary>Sends the control state to a child whose copy is out of date, in a delta of its own (acknowledged, retransmitted).</summary>
    private void SendControl(Adjacency adj)
    {
        adj.ControlDirty = false;
        var control = Control;
        SendDelta(adj, new Delta { View = View.Cfg, Control = new Net.Sync.Proto.Control { Version = control.Version, Frozen = control.Frozen } });
    }

    /// <summary>A delta's control state: only a parent may send one.</summary>
    private void OnDeltaControl(Adjacency adj, Net.Sync.Proto.Control control)
    {
        if (adj.Role != AdjacencyRole.Parent)
        {
            throw new Net.Sync.SyncProtocolException(Net.Sync.DropReason.Malformed, $"child {adj.Peer} sent a control state; only a parent may");
        }

        ApplyControl(new ClusterControl(control.Version, control.Frozen), fromJoin: false);
    }
}
