// Freeze across the tree: the root's control state reaches every tier, survives lost deltas, and comes with a join.
using Kraken.Tree.State;
using Kraken.Tree.Sync;

namespace Kraken.Tree.Tests.Sync;

public sealed class ControlTests
{
    private static bool AllFrozen(SyncCluster c, bool frozen) => c.All.Where(m => !m.Crashed).All(m => m.Engine.Control.Frozen == frozen);

    [Fact]
    public async Task A_freeze_at_the_root_reaches_every_tier_and_a_thaw_undoes_it()
    {
        await using var c = SyncCluster.Settled(TimeSpan.FromSeconds(5));
        var seen = new List<(NodeId Node, bool Frozen)>();
        foreach (var m in c.All)
        {
            m.Engine.ControlChanged += control => seen.Add((m.Id, control.Frozen));
        }

        var freeze = c[c.Root].Engine.SetFrozenAsync(true);
        c.Time.RunUntilIdle();
        Assert.True((await freeze).Frozen);
        var took = c.RunUntil(() => AllFrozen(c, true), TimeSpan.FromSeconds(5), "frozen everywhere");
        Assert.True(took < TimeSpan.FromSeconds(1), $"took {took}"); // triggered: two hops of 2 ms, not a hello interval
        Assert.Equal(13, seen.Count(s => s.Frozen));

        var thaw = c[c.Root].Engine.SetFrozenAsync(false);
        c.Time.RunUntilIdle();
        Assert.True((await thaw).Version > (await freeze).Version);
        c.RunUntil(() => AllFrozen(c, false), TimeSpan.FromSeconds(5), "thawed everywhere");
    }

    [Fact]
    public async Task Only_the_root_sets_the_control_state()
    {
        await using var c = SyncCluster.Settled(TimeSpan.Zero);
        var e = Record.Exception(() => { _ = c[c.Tier1[0]].Engine.SetFrozenAsync(true); });
        Assert.IsType<InvalidOperationException>(e);
    }

    [Fact]
    public async Task A_tier_cut_off_during_the_freeze_gets_it_when_the_partition_heals()
    {
        await using var c = SyncCluster.Settled(TimeSpan.FromSeconds(5));
        var cut = c.Tier1[1];
        c.Network.Partition(SyncCluster.EndPointOf(c.Root), SyncCluster.EndPointOf(cut));
        _ = c[c.Root].Engine.SetFrozenAsync(true);
        c.Run(TimeSpan.FromSeconds(3));
        Assert.False(c[cut].Engine.Control.Frozen);
        Assert.True(c[c.Tier1[0]].Engine.Control.Frozen);

        // Within the dead interval: the same adjacency, the delta retransmitted until acknowledged.
        c.Network.Heal(SyncCluster.EndPointOf(c.Root), SyncCluster.EndPointOf(cut));
        c.RunUntil(() => AllFrozen(c, true), TimeSpan.FromSeconds(10), "the cut tier and its leaves frozen");
    }

    [Fact]
    public async Task A_node_that_joins_a_frozen_cluster_is_frozen_before_its_Cfg_arrives()
    {
        await using var c = SyncCluster.Settled(TimeSpan.FromSeconds(5));
        _ = c[c.Root].Engine.SetFrozenAsync(true);
        c.RunUntil(() => AllFrozen(c, true), TimeSpan.FromSeconds(5), "frozen");

        // A leaf reboots with an empty store and re-joins: its first news is the freeze, then its Cfg.
        var leaf = c.Leaves[4];
        c.Crash(leaf);
        await c.StopAsync(leaf);
        var store = new StateStore();
        var order = new List<string>();
        store.Subscribe(new Recorder(leaf, () => order.Add("cfg")));
        var reborn = c.Add(leaf, store, [SyncCluster.EndPointOf(c.Tier1[1]), SyncCluster.EndPointOf(c.Tier1[2])]);
        reborn.Engine.ControlChanged += control => order.Add(control.Frozen ? "frozen" : "thawed");
        c.RunUntil(() => reborn.ParentAdjacency?.State == AdjacencyState.Full, TimeSpan.FromSeconds(30), "re-joined");
        Assert.True(reborn.Engine.Control.Frozen);
        var firstCfg = order.IndexOf("cfg");
        Assert.True(order.IndexOf("frozen") is >= 0 and var f && (firstCfg < 0 || f < firstCfg), string.Join(",", order));
    }

    [Fact]
    public async Task A_root_starts_with_its_persisted_state_and_a_newer_version_wins_after_it()
    {
        await using var c = new SyncCluster();
        var cfg = SyncCluster.ThreeTierCfg(out var root, out var tier1, out _);
        var store = new StateStore();
        foreach (var r in cfg.Where(r => r.Id == root || tier1.Contains(r.Id)))
        {
            store.Create(r);
        }

        var persisted = new ClusterControl(1_000, Frozen: true);
        var r0 = c.Add(root, store, [], configure: o => o with { InitialControl = persisted });
        var t0 = c.Add(tier1[0], new StateStore(), [SyncCluster.EndPointOf(root)]);
        c.RunUntil(() => t0.ParentAdjacency?.State == AdjacencyState.Full, TimeSpan.FromSeconds(30), "joined");
        Assert.Equal(persisted, t0.Engine.Control);

        var thaw = r0.Engine.SetFrozenAsync(false);
        c.Time.RunUntilIdle();
        Assert.True((await thaw).Version > persisted.Version);
        c.RunUntil(() => !t0.Engine.Control.Frozen, TimeSpan.FromSeconds(5), "thawed");
    }

    /// <summary>Calls back at the first Cfg change of a batch, but for the empty record the engine makes of its own node at start.</summary>
    private sealed class Recorder(NodeId self, Action onCfg) : IStateObserver
    {
        public void OnChanges(ReadOnlySpan<StateChange> changes)
        {
            foreach (var ch in changes)
            {
                if (ch.View == StateView.Cfg && !(ch.Kind == ChangeKind.Created && ch.Node == self))
                {
                    onCfg();
                    return;
                }
            }
        }
    }
}
