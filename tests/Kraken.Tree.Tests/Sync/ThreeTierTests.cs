// Functional tests of the sync protocol on a 3-tier tree (root, 3 tier-1 nodes, 9 leaves) on the in-memory network.
using Kraken.Net.Sync;
using Kraken.Net.Transport;
using Kraken.Tree.State;
using Kraken.Tree.State.Proto;
using Kraken.Tree.Sync;

namespace Kraken.Tree.Tests.Sync;

public sealed class ThreeTierTests
{
    private static readonly StateSchema s_schema = StateSchema.Default;

    [Fact]
    public async Task Every_node_joins_and_gets_its_subtree_Cfg()
    {
        await using var c = SyncCluster.Settled(TimeSpan.Zero);

        // Each tier-1 node holds the Cfg of itself, its 3 leaves and its 3 backup leaves.
        for (var t = 0; t < 3; t++)
        {
            var store = c[c.Tier1[t]].Store;
            for (var i = 0; i < 9; i++)
            {
                var covered = i / 3 == t || ((i / 3) + 1) % 3 == t;
                Assert.Equal(covered, store.Get(StateView.Cfg, c.Leaves[i]) is not null);
            }

            Assert.Equal(c.Root, store.GetRequired(StateView.Cfg, c.Tier1[t]).ParentId);
        }

        // A leaf holds its own Cfg as the root wrote it, and its parent set it SYNC.
        for (var i = 0; i < 9; i++)
        {
            var leaf = c[c.Leaves[i]];
            Assert.Equal($"l{i}", leaf.Cfg(c.Leaves[i], s_schema.Nodename).String);
            Assert.Equal(c.Tier1[i / 3], leaf.ParentAdjacency!.Peer);
            Assert.Equal(RunState.Sync, leaf.Store.GetRequired(StateView.Dsc, c.Leaves[i]).RunState);
        }

        // The root sees every node SYNC: tier-1 nodes set by itself on their join (INIT -> SYNC), leaves
        // reported up through tier 1.
        var root = c[c.Root];
        foreach (var id in c.Tier1.Concat(c.Leaves))
        {
            Assert.Equal(RunState.Sync, root.Store.GetRequired(StateView.Dsc, id).RunState);
        }

        foreach (var t in c.Tier1)
        {
            Assert.Equal((t, SyncCluster.Enum(RunState.Init), SyncCluster.Enum(RunState.Sync)), c.RootRunStates.Changes.First(x => x.Node == t));
        }
    }

    [Fact]
    public async Task A_root_Cfg_change_reaches_a_leaf_within_network_latency()
    {
        await using var c = SyncCluster.Settled(TimeSpan.FromSeconds(7));

        var leaf = c.Leaves[4];
        c[c.Root].Store.Set(StateView.Cfg, leaf, s_schema.PhysState, SyncCluster.Enum(PhysState.PowerOff));
        var took = c.RunUntil(() => c[leaf].Cfg(leaf, s_schema.PhysState) == SyncCluster.Enum(PhysState.PowerOff), TimeSpan.FromSeconds(30), "the leaf gets the new Cfg");

        // Two hops of 2 ms: no hello or timer wait on the way.
        Assert.True(took <= TimeSpan.FromMilliseconds(10), $"took {took}");

        // The backup parent got it too, so it could serve the leaf after a failover.
        Assert.Equal(SyncCluster.Enum(PhysState.PowerOff), c[c.Tier1[2]].Cfg(leaf, s_schema.PhysState));
    }

    [Fact]
    public async Task A_leaf_Dsc_change_reaches_the_root()
    {
        await using var c = SyncCluster.Settled(TimeSpan.FromSeconds(7));

        var leaf = c.Leaves[7];
        c[leaf].Store.Set(StateView.Dsc, leaf, s_schema.PhysState, SyncCluster.Enum(PhysState.PhysHang));
        var took = c.RunUntil(() => c[c.Root].Dsc(leaf, s_schema.PhysState) == SyncCluster.Enum(PhysState.PhysHang), TimeSpan.FromSeconds(30), "the root sees the leaf's Dsc");
        Assert.True(took <= TimeSpan.FromMilliseconds(10), $"took {took}");
        Assert.Equal(SyncCluster.Enum(PhysState.PhysHang), c[c.Tier1[2]].Dsc(leaf, s_schema.PhysState));
    }

    [Fact]
    public async Task Killing_a_tier1_node_fails_its_children_over_and_the_root_shows_ERROR()
    {
        await using var c = SyncCluster.Settled(TimeSpan.FromSeconds(12));

        var dead = c.Tier1[0];
        var orphans = c.Leaves[..3];
        var lastHeard = new Dictionary<NodeId, TimeSpan>();
        var detected = new Dictionary<NodeId, TimeSpan>();
        foreach (var leaf in orphans)
        {
            var engine = c[leaf].Engine;
            engine.AdjacencyChanged += t =>
            {
                if (t.Peer == dead && t.To == AdjacencyState.Dead)
                {
                    detected[leaf] = c.Time.Elapsed;
                }
            };
        }

        // Note when the dead node last sent to each orphan; it arrives one latency (2 ms, no jitter) later.
        var deadAddress = SyncCluster.EndPointOf(dead).Address;
        c.Network.Tap = (from, to, _) =>
        {
            if (from.Address == deadAddress && orphans.FirstOrDefault(o => SyncCluster.EndPointOf(o).Address == to.Address) is { IsNil: false } orphan)
            {
                lastHeard[orphan] = c.Time.Elapsed + TimeSpan.FromMilliseconds(2);
            }
        };
        c.Run(TimeSpan.FromSeconds(6));
        c.Network.Tap = null;
        var before = orphans.ToDictionary(l => l, l => c[l].Engine.Counters.Received(MessageType.Hello));
        var killedAt = c.Time.Elapsed;
        c.Crash(dead);
        var options = c[orphans[0]].Engine.Options;

        c.RunUntil(() => detected.Count == 3, options.DeadInterval + options.HelloInterval + TimeSpan.FromSeconds(1), "every orphan detects its dead parent");
        foreach (var leaf in orphans)
        {
            // Dead after [dead, dead + hello] of silence, hence within dead + hello of the crash. The silence began
            // at the crash or up to one gap between the dead node's hellos before it: with the symmetric jitter a
            // gap may be up to (1 + jitter / 2) hello intervals, so the earliest detection is that much before dead.
            Assert.InRange(detected[leaf] - lastHeard[leaf], options.DeadInterval, options.DeadInterval + options.HelloInterval);
            Assert.InRange(detected[leaf] - killedAt, options.DeadInterval - (options.HelloInterval * (1 + (options.HelloJitter / 2))), options.DeadInterval + options.HelloInterval);
        }

        // They re-join their backup parent (tier-1 #1) and the root hears of them through it.
        c.RunUntil(() => orphans.All(l => c[l].ParentAdjacency is { State: AdjacencyState.Full } p && p.Peer == c.Tier1[1]), TimeSpan.FromSeconds(30), "orphans Full with their backup parent");
        c.RunUntil(() => c[c.Root].Dsc(dead, s_schema.RunState) == SyncCluster.Enum(RunState.Error), options.DeadInterval + options.HelloInterval, "the root marks the dead node ERROR");
        Assert.Equal(AdjacencyState.Dead, c[c.Root].Engine.Adjacencies.Single(a => a.Peer == dead).State);

        // New Dsc of an orphan now flows up through its new parent.
        c.Run(TimeSpan.FromSeconds(6));
        c[orphans[1]].Store.Set(StateView.Dsc, orphans[1], s_schema.PhysState, SyncCluster.Enum(PhysState.PowerCycle));
        c.RunUntil(() => c[c.Root].Dsc(orphans[1], s_schema.PhysState) == SyncCluster.Enum(PhysState.PowerCycle), TimeSpan.FromSeconds(1), "orphan Dsc reaches the root");
        foreach (var leaf in orphans)
        {
            Assert.Equal(RunState.Sync, c[c.Root].Store.GetRequired(StateView.Dsc, leaf).RunState);
            Assert.True(c[leaf].Engine.Counters.Received(MessageType.Hello) >= before[leaf]);
        }
    }

    [Fact]
    public async Task With_ten_percent_loss_the_tree_still_converges()
    {
        await using var c = new SyncCluster(seed: 7);
        c.Network.Conditions = new NetworkConditions { Latency = TimeSpan.FromMilliseconds(2), Jitter = TimeSpan.FromMilliseconds(3), Loss = 0.10, Duplicate = 0.02, Reorder = 0.05 };
        c.StartThreeTier();
        c.RunUntil(c.AllFull, TimeSpan.FromMinutes(5), "every adjacency Full despite loss");

        // Several changes both ways while packets are lost.
        var root = c[c.Root].Store;
        for (var i = 0; i < 9; i++)
        {
            root.Set(StateView.Cfg, c.Leaves[i], s_schema.Platform, StateValue.FromString($"rack-{i}"));
            c[c.Leaves[i]].Store.Set(StateView.Dsc, c.Leaves[i], s_schema.Arch, StateValue.FromString($"arch-{i}"));
        }

        c.RunUntil(
            () => Enumerable.Range(0, 9).All(i =>
                c[c.Leaves[i]].Cfg(c.Leaves[i], s_schema.Platform) == StateValue.FromString($"rack-{i}")
                && c[c.Root].Dsc(c.Leaves[i], s_schema.Arch) == StateValue.FromString($"arch-{i}")),
            TimeSpan.FromMinutes(2),
            "every change converges");
        Assert.True(c.Network.Lost > 0, "the network lost nothing: the test did not test loss");
    }

    [Fact]
    public async Task The_compatibility_profile_converges_only_with_hellos()
    {
        await using var c = SyncCluster.Settled(TimeSpan.FromSeconds(15), SyncProfile.KrakenGo);

        var leaf = c.Leaves[4];
        c[c.Root].Store.Set(StateView.Cfg, leaf, s_schema.PhysState, SyncCluster.Enum(PhysState.PowerOff));
        var took = c.RunUntil(() => c[leaf].Cfg(leaf, s_schema.PhysState) == SyncCluster.Enum(PhysState.PowerOff), TimeSpan.FromSeconds(30), "the leaf gets the new Cfg");
        Assert.True(took > TimeSpan.FromMilliseconds(100), $"took {took}: the compatibility profile sent a triggered update");
        Assert.Equal(0, c[c.Root].Engine.Counters.Sent(MessageType.Delta));
        Assert.True(c[c.Root].Engine.Counters.Sent(MessageType.FullHello) > 0);
    }

    [Fact]
    public async Task A_subtree_carries_the_records_of_the_backup_parents_its_nodes_fail_over_to()
    {
        await using var c = SyncCluster.Settled(TimeSpan.FromSeconds(5));
        var name = StateSchema.Default.Nodename;
        for (var i = 0; i < 9; i++)
        {
            var leaf = c[c.Leaves[i]];
            var backup = c.Tier1[((i / 3) + 1) % 3];
            var other = c.Tier1[((i / 3) + 2) % 3];

            // The leaf holds its backup parent's record (the address it fails over to), not the third tier-1's.
            Assert.Equal($"t{((i / 3) + 1) % 3}", leaf.Cfg(backup, name).String);
            Assert.False(leaf.Store.Contains(other));
            Assert.Equal(2, leaf.Store.Count);
        }

        // A tier-1 holds the backup parent of the leaves it boots; that record's own subtree does not come with it.
        // t0 holds itself, its leaves 0-2, its backup children 6-8 (whose primary is t2), and t1, the backup of its
        // own leaves; not t1's leaves 3-5, and not t2, whose leaves fail over to t0 but whose record they do not need here.
        var t0 = c[c.Tier1[0]];
        Assert.True(t0.Store.Contains(c.Tier1[1]));
        Assert.False(t0.Store.Contains(c.Tier1[2]));
        Assert.All(c.Leaves[3..6], l => Assert.False(t0.Store.Contains(l)));
        Assert.Equal(8, t0.Store.Count);
    }

    [Fact]
    public async Task A_parent_reports_the_Dsc_of_its_children_before_they_join()
    {
        // Root and tier-1 nodes only: the leaves are still booting (their parents power and PXE-boot them).
        await using var c = new SyncCluster();
        var cfg = SyncCluster.ThreeTierCfg(out var root, out var tier1, out var leaves);
        var store = new StateStore();
        foreach (var r in cfg)
        {
            store.Create(r);
        }

        c.Add(root, store, []);
        var t0 = c.Add(tier1[0], new StateStore(), [SyncCluster.EndPointOf(root)]);
        c.RunUntil(() => t0.ParentAdjacency?.State == AdjacencyState.Full, TimeSpan.FromSeconds(30), "tier-1 joined");

        // What the tier-1's PXE module sees of its booting leaf reaches the root; a backup child's does not (t0 is
        // only a backup parent of leaves 6-8, whose own parent reports them).
        t0.Store.Set(StateView.Dsc, leaves[1], s_schema.Resolve("/Extensions/Pxe/State"), SyncCluster.Enum(Kraken.Tree.State.Proto.Pxe.Types.State.Init));
        t0.Store.Set(StateView.Dsc, leaves[6], s_schema.PhysState, SyncCluster.Enum(PhysState.PowerOn));
        c.RunUntil(() => c[root].Dsc(leaves[1], s_schema.Resolve("/Extensions/Pxe/State")).ToString() == "INIT", TimeSpan.FromSeconds(5), "the leaf's boot seen at the root");
        c.Run(TimeSpan.FromSeconds(5));
        Assert.False(c[root].Dsc(leaves[6], s_schema.PhysState).IsSet);
    }
}

