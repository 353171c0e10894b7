// What the root sees: each node's Dsc /RunState over time, recorded as the root's store changes.
using Kraken.Tree.State;

namespace Kraken.Sim.Cluster;

/// <summary>
/// Watches the root's store (called under its write lock, on the simulation's executor): when each node first
/// showed SYNC, how many show SYNC now, every ERROR report, and when each node's Dsc first matched a watched
/// value. Only arrays and counters are touched, so 100,000 nodes cost a few megabytes.
/// </summary>
internal sealed class RootObserver : IStateObserver
{
    private readonly SimCluster _cluster;
    private readonly StateUrl _run;
    private readonly StateValue _sync;
    private readonly StateValue _error;
    private readonly bool[] _inSync;
    private readonly bool[] _errored;
    private StateUrl? _watchUrl;
    private StateValue _watchValue;

    public RootObserver(SimCluster cluster)
    {
        _cluster = cluster;
        var schema = StateSchema.Default;
        _run = schema.RunState;
        _sync = NodeEditor.Parse(_run, "SYNC");
        _error = NodeEditor.Parse(_run, "ERROR");
        var n = cluster.Topology.Tier.Length;
        _inSync = new bool[n];
        _errored = new bool[n];
        FirstSync = new long[n];
        InSyncByTier = new int[cluster.Topology.TierCounts.Length];
        Array.Fill(FirstSync, -1);
    }

    /// <summary>Virtual time (ticks) at which each node first showed SYNC at the root; -1 when never.</summary>
    public long[] FirstSync { get; }

    /// <summary>Nodes below the root showing SYNC now.</summary>
    public int InSync { get; private set; }

    /// <summary>Whether node <paramref name="index"/> shows RunState SYNC at the root now.</summary>
    public bool IsInSync(int index) => _inSync[index];

    /// <summary>Nodes showing SYNC now, per tier.</summary>
    public int[] InSyncByTier { get; }

    /// <summary>Nodes below the root that have shown SYNC at least once.</summary>
    public int EverSynced { get; private set; }

    /// <summary>Every report of ERROR, and every return to SYNC after one: node, time, whether it was the ERROR.</summary>
    public List<(int Node, long Ticks, bool Error)> Transitions { get; } = [];

    /// <summary>When each node's Dsc first matched the watched value (ticks; -1 when not yet).</summary>
    public long[]? Matched { get; private set; }

    public int MatchedCount { get; private set; }

    /// <summary>From now on records when each node's Dsc <paramref name="url"/> equals <paramref name="value"/>.</summary>
    public void Watch(StateUrl url, StateValue value)
    {
        _watchUrl = url;
        _watchValue = value;
        Matched = new long[_inSync.Length];
        Array.Fill(Matched, -1);
        MatchedCount = 0;
    }

    public void OnChanges(ReadOnlySpan<StateChange> changes)
    {
        var now = _cluster.Time.Elapsed.Ticks;
        foreach (var c in changes)
        {
            if (c.View != StateView.Dsc || c.Kind != ChangeKind.Updated)
            {
                continue;
            }

            if (ReferenceEquals(c.Url, _run))
            {
                OnRunState(c, now);
            }
            else if (_watchUrl is not null && ReferenceEquals(c.Url, _watchUrl) && c.New == _watchValue)
            {
                var i = _cluster.IndexOf(c.Node);
                if (i > 0 && Matched![i] < 0)
                {
                    Matched[i] = now;
                    MatchedCount++;
                }
            }
        }
    }

    private void OnRunState(in StateChange c, long now)
    {
        var i = _cluster.IndexOf(c.Node);
        if (i <= 0)
        {
            return;
        }

        var sync = c.New == _sync;
        if (sync != _inSync[i])
        {
            _inSync[i] = sync;
            var d = sync ? 1 : -1;
            InSync += d;
            InSyncByTier[_cluster.Topology.Tier[i]] += d;
        }

        if (sync && FirstSync[i] < 0)
        {
            FirstSync[i] = now;
            EverSynced++;
        }
        else if (sync && _errored[i])
        {
            // Back in SYNC after an ERROR, whatever came between (a power cycle goes through UNKNOWN and INIT).
            _errored[i] = false;
            Transitions.Add((i, now, false));
        }

        if (c.New == _error)
        {
            _errored[i] = true;
            Transitions.Add((i, now, true));
        }
    }
}
