// Damping, anti-entropy repair and re-join after a restart, on the in-memory network.
using Kraken.Net.Execution;
using Kraken.Net.Sync;
using Kraken.Tree.State;
using Kraken.Tree.State.Proto;
using Kraken.Tree.Sync;

namespace Kraken.Tree.Tests.Sync;

public sealed class RecoveryTests
{
    private static readonly StateSchema s_schema = StateSchema.Default;

    [Fact]
    public async Task A_flapping_value_is_damped_and_its_last_value_arrives()
    {
        await using var c = SyncCluster.Settled(TimeSpan.FromSeconds(10));

        var leaf = c[c.Leaves[0]];
        var before = leaf.Engine.Counters.Sent(MessageType.Delta);
        var options = leaf.Engine.Options;

        // 400 changes of one value over 4 seconds (every 10 ms).
        for (var i = 0; i < 400; i++)
        {
            leaf.Store.Set(StateView.Dsc, leaf.Id, s_schema.Nodename, StateValue.FromString($"v{i}"));
            c.Run(TimeSpan.FromMilliseconds(10));
        }

        c.Run(options.DampingMaximum + TimeSpan.FromSeconds(1));
        var sent = leaf.Engine.Counters.Sent(MessageType.Delta) - before;

        // Without damping: 400 deltas. With it: the hold doubles from 100 ms to 5 s, so a handful (plus retransmits).
        Assert.InRange(sent, 2, 20);
        Assert.Equal("v399", c[c.Root].Dsc(leaf.Id, s_schema.Nodename).String);
    }

    [Fact]
    public async Task A_lost_update_is_repaired_through_the_hello_digest()
    {
        await using var c = SyncCluster.Settled(TimeSpan.FromSeconds(10));

        var leafId = c.Leaves[3];
        var leaf = c[leafId];
        var parent = c.Tier1[1];

        // The leaf "loses" its Cfg update: stale value in its store, no trace of the version in its table.
        c.Executor.Post(() => leaf.Engine.ForgetReceived(parent, leafId));
        leaf.Store.Set(StateView.Cfg, leafId, s_schema.Platform, StateValue.FromString("stale"));
        c.Time.RunUntilIdle();
        var requests = leaf.Engine.Counters.Sent(MessageType.RepairRequest);

        var took = c.RunUntil(() => leaf.Cfg(leafId, s_schema.Platform) == default, TimeSpan.FromSeconds(30), "the repair restores the parent's Cfg");
        Assert.True(took <= leaf.Engine.Options.HelloInterval + TimeSpan.FromSeconds(1), $"took {took}");
        Assert.Equal(requests + 1, leaf.Engine.Counters.Sent(MessageType.RepairRequest));
        Assert.Equal("l3", leaf.Cfg(leafId, s_schema.Nodename).String);

        // Afterwards the digests agree: no further repair.
        c.Run(TimeSpan.FromSeconds(30));
        Assert.Equal(requests + 1, leaf.Engine.Counters.Sent(MessageType.RepairRequest));
    }

    [Fact]
    public async Task A_restarted_node_rejoins_replacing_its_old_adjacency_and_gets_its_Dsc_back()
    {
        await using var c = SyncCluster.Settled(TimeSpan.Zero);

        var leafId = c.Leaves[8];
        var parentId = c.Tier1[2];
        c[leafId].Store.Set(StateView.Dsc, leafId, s_schema.Arch, StateValue.FromString("aarch64"));
        c.RunUntil(() => c[parentId].Dsc(leafId, s_schema.Arch).IsSet, TimeSpan.FromSeconds(1), "the parent has the leaf's Dsc");

        // Power loss, then a fresh boot with an empty store, well before the parent would declare it dead.
        c.Crash(leafId);
        await c.StopAsync(leafId);
        c.Run(TimeSpan.FromSeconds(3));
        var transitions = new List<AdjacencyTransition>();
        c[parentId].Engine.AdjacencyChanged += transitions.Add;
        var reborn = c.Add(leafId, new StateStore(), [SyncCluster.EndPointOf(parentId), SyncCluster.EndPointOf(c.Tier1[0])]);
        c.RunUntil(() => reborn.ParentAdjacency?.State == AdjacencyState.Full, TimeSpan.FromSeconds(10), "the restarted leaf joined");

        Assert.Equal(parentId, reborn.ParentAdjacency!.Peer);
        Assert.Contains(transitions, t => t.Peer == leafId && t.To == AdjacencyState.Down);
        Assert.Single(c[parentId].Engine.Adjacencies, a => a.Peer == leafId);
        Assert.Equal("aarch64", reborn.Dsc(leafId, s_schema.Arch).String);
        Assert.Equal(RunState.Sync, reborn.Store.GetRequired(StateView.Dsc, leafId).RunState);
        Assert.Equal("l8", reborn.Cfg(leafId, s_schema.Nodename).String);

        // The old adjacency is gone for good: the parent never declares the leaf dead afterwards.
        c.Run(TimeSpan.FromMinutes(1));
        Assert.Equal(AdjacencyState.Full, c[parentId].Engine.Adjacencies.Single(a => a.Peer == leafId).State);
        Assert.Equal(RunState.Sync, c[c.Root].Store.GetRequired(StateView.Dsc, leafId).RunState);
    }

    [Fact]
    public async Task A_leaf_cut_off_from_its_parent_moves_to_its_backup_and_the_root_follows_it()
    {
        await using var c = SyncCluster.Settled(TimeSpan.FromSeconds(10));
        var leafId = c.Leaves[1];
        var primary = c.Tier1[0];
        var backup = c.Tier1[1];
        c.Network.Partition(SyncCluster.EndPointOf(leafId), SyncCluster.EndPointOf(primary));

        var options = c[leafId].Engine.Options;
        c.RunUntil(() => c[leafId].ParentAdjacency is { State: AdjacencyState.Full } p && p.Peer == backup, options.DeadInterval * 2, "the leaf joined its backup parent");
        c.RunUntil(() => c[primary].Dsc(leafId, s_schema.RunState) == SyncCluster.Enum(RunState.Error), options.DeadInterval * 2, "the old parent marks the leaf ERROR");

        // Both tier-1 nodes report the leaf up; the root follows the one that took it over last.
        c.Run(TimeSpan.FromSeconds(10));
        Assert.Equal(RunState.Sync, c[c.Root].Store.GetRequired(StateView.Dsc, leafId).RunState);
        c[leafId].Store.Set(StateView.Dsc, leafId, s_schema.Arch, StateValue.FromString("riscv64"));
        c.RunUntil(() => c[c.Root].Dsc(leafId, s_schema.Arch) == StateValue.FromString("riscv64"), TimeSpan.FromSeconds(1), "the leaf's Dsc reaches the root through its backup");
        Assert.Equal(backup, c[c.Root].Store.GetRequired(StateView.Dsc, leafId).ParentId); // attached to its backup (Cfg says the primary)

        // Once the link heals, the leaf goes back to its primary (the parent that powers and boots it) within the
        // fail-back interval, and the root follows it there.
        c.Network.HealAll();
        var back = c.RunUntil(() => c[leafId].ParentAdjacency is { State: AdjacencyState.Full } p && p.Peer == primary, options.FailbackInterval * 2, "the leaf back with its primary");
        Assert.True(back <= options.FailbackInterval + options.JoinTimeout, $"took {back}");
        c[leafId].Store.Set(StateView.Dsc, leafId, s_schema.Arch, StateValue.FromString("arm64"));
        c.RunUntil(() => c[c.Root].Dsc(leafId, s_schema.Arch) == StateValue.FromString("arm64"), TimeSpan.FromSeconds(1), "the leaf's Dsc reaches the root through its primary");
        Assert.Equal(RunState.Sync, c[c.Root].Store.GetRequired(StateView.Dsc, leafId).RunState);
        Assert.Equal(RunState.Sync, c[primary].Store.GetRequired(StateView.Dsc, leafId).RunState);
        Assert.Equal(primary, c[c.Root].Store.GetRequired(StateView.Dsc, leafId).ParentId);

        // The backup declares it gone after its dead interval; that report, attached nowhere, changes nothing above.
        c.Run(options.DeadInterval * 2);
        Assert.Equal(RunState.Error, c[backup].Store.GetRequired(StateView.Dsc, leafId).RunState);
        Assert.Equal(RunState.Sync, c[c.Root].Store.GetRequired(StateView.Dsc, leafId).RunState);
        Assert.Equal(primary, c[c.Root].Store.GetRequired(StateView.Dsc, leafId).ParentId);
    }

    [Fact]
    public async Task Without_fail_back_a_node_stays_with_its_backup()
    {
        await using var c = new SyncCluster();
        c.StartThreeTier(configure: o => o with { FailbackInterval = TimeSpan.Zero });
        c.RunUntil(c.AllFull, TimeSpan.FromMinutes(2), "every adjacency Full");
        c.PastWarmUp();
        var leafId = c.Leaves[1];
        c.Network.Partition(SyncCluster.EndPointOf(leafId), SyncCluster.EndPointOf(c.Tier1[0]));
        c.RunUntil(() => c[leafId].ParentAdjacency is { State: AdjacencyState.Full } p && p.Peer == c.Tier1[1], TimeSpan.FromMinutes(1), "the leaf joined its backup parent");
        c.Network.HealAll();
        c.Run(TimeSpan.FromMinutes(2));
        Assert.Equal(c.Tier1[1], c[leafId].ParentAdjacency!.Peer);
    }

    [Fact]
    public async Task A_fail_back_attempt_that_fails_leaves_the_backup_adjacency_up()
    {
        await using var c = SyncCluster.Settled(TimeSpan.FromSeconds(5));
        var leafId = c.Leaves[1];
        var transitions = new List<AdjacencyTransition>();
        c.Network.Partition(SyncCluster.EndPointOf(leafId), SyncCluster.EndPointOf(c.Tier1[0]));
        c.RunUntil(() => c[leafId].ParentAdjacency is { State: AdjacencyState.Full } p && p.Peer == c.Tier1[1], TimeSpan.FromMinutes(1), "the leaf joined its backup parent");
        c[leafId].Engine.AdjacencyChanged += transitions.Add;

        // The primary stays unreachable: every fail-back attempt fails, and the node keeps its backup throughout.
        for (var i = 0; i < 4; i++)
        {
            c.Run(c[leafId].Engine.Options.FailbackInterval);
            Assert.Equal(AdjacencyState.Full, c[leafId].ParentAdjacency!.State);
            Assert.Equal(c.Tier1[1], c[leafId].ParentAdjacency!.Peer);
        }

        Assert.Empty(transitions);
    }

    [Fact]
    public async Task After_a_fail_back_the_backup_parents_late_dead_verdict_does_not_stand_at_the_root()
    {
        await using var c = SyncCluster.Settled(TimeSpan.FromSeconds(5));
        var leafId = c.Leaves[1];
        var primary = c.Tier1[0];
        var backup = c.Tier1[1];
        var runState = StateSchema.Default.RunState;
        c.Network.Partition(SyncCluster.EndPointOf(leafId), SyncCluster.EndPointOf(primary));
        c.RunUntil(() => c[leafId].ParentAdjacency is { State: AdjacencyState.Full } p && p.Peer == backup, TimeSpan.FromMinutes(2), "the leaf joined its backup parent");
        c.RunUntil(() => c[c.Root].Store.GetRequired(StateView.Dsc, leafId).ParentId == backup && c[c.Root].Dsc(leafId, runState) == SyncCluster.Enum(RunState.Sync), TimeSpan.FromMinutes(1), "the root follows the leaf to its backup");

        // The cut heals: the leaf fails back to its primary and stops talking to the backup, which declares it dead
        // a dead interval later and reports ERROR; the root must keep the primary's SYNC.
        c.Network.HealAll();
        c.RunUntil(() => c[leafId].ParentAdjacency is { State: AdjacencyState.Full } p && p.Peer == primary, TimeSpan.FromMinutes(2), "the leaf failed back to its primary");
        c.RunUntil(() => c[backup].Engine.Adjacencies.All(a => a.Peer != leafId || a.State != AdjacencyState.Full), TimeSpan.FromMinutes(5), "the backup lets the leaf go");
        c.Run(TimeSpan.FromMinutes(2));
        Assert.Equal(SyncCluster.Enum(RunState.Sync), c[c.Root].Dsc(leafId, runState));
        Assert.Equal(primary, c[c.Root].Store.GetRequired(StateView.Dsc, leafId).ParentId);
    }

    [Fact]
    public async Task A_leaf_that_fails_back_before_its_primary_saw_it_leave_is_reported_attached_there_again()
    {
        // The link fails one way: the leaf stops hearing its primary, which still hears the leaf. The leaf moves to its
        // backup and comes back (fail-back every 5 s) before the primary's dead interval for it ran out, so the primary's
        // record of it never changed; the backup's later dead verdict must not be the root's last word.
        await using var c = new SyncCluster();
        c.StartThreeTier(configure: o => o with { FailbackInterval = TimeSpan.FromSeconds(5) });
        c.RunUntil(c.AllFull, TimeSpan.FromMinutes(2), "every adjacency Full");
        c.PastWarmUp();
        c.Run(TimeSpan.FromSeconds(5));
        var leafId = c.Leaves[1];
        var primary = c.Tier1[0];
        var backup = c.Tier1[1];
        var runState = StateSchema.Default.RunState;
        var root = c[c.Root];
        bool AttachedTo(NodeId parent) => c[leafId].ParentAdjacency is { State: AdjacencyState.Full } p && p.Peer == parent;
        bool PrimaryHoldsLeaf() => c[primary].Engine.Adjacencies.Any(a => a.Peer == leafId && a.State == AdjacencyState.Full);

        c.Network.CutOneWay(SyncCluster.EndPointOf(primary), SyncCluster.EndPointOf(leafId));
        c.RunUntil(() => AttachedTo(backup), TimeSpan.FromMinutes(2), "the leaf joined its backup parent");
        c.RunUntil(() => root.Store.GetRequired(StateView.Dsc, leafId).ParentId == backup, TimeSpan.FromMinutes(1), "the root follows the leaf to its backup");
        Assert.True(PrimaryHoldsLeaf(), "the primary still hears the leaf");

        c.Network.Heal(SyncCluster.EndPointOf(primary), SyncCluster.EndPointOf(leafId));
        c.RunUntil(() => AttachedTo(primary), TimeSpan.FromMinutes(1), "the leaf failed back to its primary");
        Assert.Equal(SyncCluster.Enum(RunState.Sync), c[primary].Dsc(leafId, runState));
        c.RunUntil(() => c[backup].Engine.Adjacencies.All(a => a.Peer != leafId || a.State != AdjacencyState.Full), TimeSpan.FromMinutes(5), "the backup lets the leaf go");
        c.Run(TimeSpan.FromMinutes(2));
        Assert.Equal(primary, root.Store.GetRequired(StateView.Dsc, leafId).ParentId);
        Assert.Equal(SyncCluster.Enum(RunState.Sync), root.Dsc(leafId, runState));
        Assert.DoesNotContain(leafId, root.Engine.Lost);
    }

    [Fact]
    public void Invalid_options_name_the_offending_key()
    {
        var good = SyncOptions.ForProfile(SyncProfile.Kraken, NodeId.FromName("x"), SyncCluster.Secret);
        good.Validate();
        Assert.Equal("DeadInterval", Assert.Throws<ArgumentException>(() => (good with { DeadInterval = TimeSpan.FromSeconds(1) }).Validate()).ParamName);
        Assert.Equal("JoinSecret", Assert.Throws<ArgumentException>(() => (good with { JoinSecret = new byte[4] }).Validate()).ParamName);
        Assert.Equal("HelloJitter", Assert.Throws<ArgumentException>(() => (good with { HelloJitter = 1.5 }).Validate()).ParamName);
        Assert.Contains("Sync:DeadInterval", Assert.Throws<ArgumentException>(() => (good with { DeadInterval = TimeSpan.Zero }).Validate()).Message, StringComparison.Ordinal);
        var go = SyncOptions.ForProfile(SyncProfile.KrakenGo, NodeId.FromName("x"), SyncCluster.Secret);
        Assert.Equal((TimeSpan.FromSeconds(10), TimeSpan.FromSeconds(40)), (go.HelloInterval, go.DeadInterval));
    }

    [Fact]
    public async Task The_root_reports_what_a_dead_tier_lost_until_others_report_it()
    {
        // Leaves 0-2 fail over to t1 (their backup); with fail-over off for leaf 2 it stays lost.
        await using var c = new SyncCluster();
        c.StartThreeTier();
        c.RunUntil(c.AllFull, TimeSpan.FromMinutes(2), "every adjacency Full");
        c.PastWarmUp();
        var dead = c.Tier1[0];
        var root = c[c.Root].Engine;
        Assert.Empty(root.Lost);

        c.Crash(dead);
        await c.StopAsync(dead);
        c.Crash(c.Leaves[2]); // a leaf that dies with its parent: nobody reports it again
        await c.StopAsync(c.Leaves[2]);
        var options = root.Options;
        c.RunUntil(() => root.Lost.Contains(dead), options.DeadInterval * 2, "the dead tier-1 is lost");

        // Its surviving leaves join their backup parent and are reported again; the dead tier and the dead leaf stay lost.
        c.RunUntil(() => !root.Lost.Contains(c.Leaves[0]) && !root.Lost.Contains(c.Leaves[1]), options.DeadInterval * 3, "the leaves found again");
        Assert.Equal(SyncCluster.Ids(dead, c.Leaves[2]).Order(), root.Lost.Order());
        Assert.Equal(RunState.Error, c[c.Root].Store.GetRequired(StateView.Dsc, dead).RunState);
    }
}

