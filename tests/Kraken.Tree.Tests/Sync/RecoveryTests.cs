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

        // Healing the link does not move it back: no failback while the backup lives.
        c.Network.HealAll();
        c.Run(TimeSpan.FromMinutes(1));
        Assert.Equal(backup, c[leafId].ParentAdjacency!.Peer);
        Assert.Equal(RunState.Sync, c[c.Root].Store.GetRequired(StateView.Dsc, leafId).RunState);
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
}
