using Kraken.Sim.Cluster;
using Kraken.Sim.Scenarios;
using Kraken.Tree.State;
using Kraken.Tree.Sync;

namespace Kraken.Sim.Tests;

public class ScenarioTests
{
    private static SimSettings Small(int nodes = 300, int fanout = 15) => new() { Nodes = nodes, Fanout = [fanout], Seed = 7 };

    [Fact]
    public void Coldboot_powers_boots_and_joins_every_node_tier_by_tier()
    {
        var runner = new ScenarioRunner(Small(), new ScenarioOptions());
        var r = runner.Run();
        var c = runner.Cluster!;

        Assert.True(r.Converged);
        Assert.Equal(c.Count, c.Root.InSync);
        Assert.Equal(c.Count, (int)r.Boots);

        // A child can only boot once its parent's daemon runs: every tier-2 node joined after its parent did.
        var t = c.Topology;
        for (var i = 1; i <= c.Count; i++)
        {
            if (t.Tier[i] == 2)
            {
                Assert.True(c.Root.FirstSync[i] > c.Root.FirstSync[t.Parent[i]], $"node {i} in SYNC before its parent");
            }

            Assert.Contains(c.SyncOf(i)!.Parent?.State, new AdjacencyState?[] { AdjacencyState.Exchange, AdjacencyState.Full });
        }

        // Every node's own store holds its Cfg from the root, and the root holds every Dsc at the goal.
        var root = c.StoreOf(0)!;
        var leaf = t.Ids[c.Count];
        Assert.True(root.GetRequired(StateView.Cfg, leaf).ValuesEqual(c.StoreOf(c.Count)!.GetRequired(StateView.Cfg, leaf)));
        Assert.All(t.Ids.Skip(1), id => Assert.Equal("POWER_ON", root.GetRequired(StateView.Dsc, id).Get(root.Schema.PhysState).ToString()));

        // The cold boot takes at least power-on, PXE and kernel time per tier; percentiles are ordered.
        var times = r.SyncTimes.Select(x => x.Time!.Value).ToList();
        Assert.Equal(times.Order(), times);
        Assert.True(times[^1] > TimeSpan.FromSeconds(2 * (2 + 8)), $"cold boot took only {times[^1]}");
        Assert.True(r.Tiers[1].AllSync < r.Tiers[2].AllSync);
    }

    [Fact]
    public void Coldboot_survives_loss_duplication_reordering_and_failing_power_calls()
    {
        var s = Small(200, 10) with { Loss = 0.05, Duplicate = 0.05, Reorder = 0.1, Jitter = TimeSpan.FromMilliseconds(3), PowerFailure = 0.1 };
        var runner = new ScenarioRunner(s, new ScenarioOptions());
        var r = runner.Run();
        Assert.True(r.Converged);
        Assert.Equal(200, runner.Cluster!.Root.InSync);
        Assert.True(runner.Cluster.Network.Lost > 0);
        Assert.True(runner.Cluster.Network.Duplicated > 0);
    }

    [Fact]
    public void Change_reaches_every_node_and_comes_back_within_milliseconds_for_kraken_and_a_hello_for_kraken_go()
    {
        var kraken = new ScenarioRunner(Small(), new ScenarioOptions { Kind = ScenarioKind.Change }).Run();
        var go = new ScenarioRunner(Small() with { Profile = SyncProfile.KrakenGo }, new ScenarioOptions { Kind = ScenarioKind.Change }).Run();
        Assert.True(kraken.Converged);
        Assert.True(go.Converged);
        double Max(Reports.SimResult r, string what) => r.Figures.Single(f => f.Name == $"{what} max").Value;

        // Two tiers down and back at 1 ms latency: a few milliseconds with triggered deltas.
        Assert.InRange(Max(kraken, "change seen at root (Dsc up)"), 0.001, 0.1);
        Assert.True(Max(kraken, "change reaches node (Cfg down)") <= Max(kraken, "change seen at root (Dsc up)"));

        // The original moves records only with its 10 s hellos: seconds per tier each way.
        Assert.True(Max(go, "change seen at root (Dsc up)") > 100 * Max(kraken, "change seen at root (Dsc up)"));
        Assert.InRange(Max(go, "change seen at root (Dsc up)"), 5, 45);
    }

    [Fact]
    public void Kill_parent_moves_the_orphans_to_their_backup_parents_and_the_root_sees_error_then_recovery()
    {
        var runner = new ScenarioRunner(Small(), new ScenarioOptions { Kind = ScenarioKind.KillParent, Kill = 2 });
        var r = runner.Run();
        var c = runner.Cluster!;
        Assert.True(r.Converged);
        double Fig(string name) => r.Figures.Single(f => f.Name == name).Value;

        // Detection: the dead interval of silence counted from the last hello heard, checked at each hello tick.
        var dead = c.Settings.DeadInterval.TotalSeconds;
        var hello = c.Settings.HelloInterval.TotalSeconds;
        Assert.InRange(Fig("root sees ERROR max"), dead - hello, dead + hello);
        Assert.InRange(Fig("children re-parented max"), dead - hello, dead + hello + 1);
        Assert.Equal(2, Fig("killed tier-1 nodes"));

        // Each victim was reported ERROR and later SYNC again (the root power-cycled it).
        var victims = c.Root.Transitions.Where(x => x.Error).Select(x => x.Node).Distinct().Where(n => c.Topology.Tier[n] == 1).ToList();
        Assert.Equal(2, victims.Count);
        foreach (var v in victims)
        {
            var error = c.Root.Transitions.First(x => x.Node == v && x.Error).Ticks;
            Assert.Contains(c.Root.Transitions, x => x.Node == v && !x.Error && x.Ticks > error);
            Assert.True(c.IsRunning(v));
        }

        Assert.True(r.PowerLosses >= 2);
        Assert.True(Fig("root sees SYNC again max") > Fig("root sees ERROR max"));
    }

    [Fact]
    public void Orphans_join_their_backup_parent_which_reports_them_to_the_root()
    {
        var runner = new ScenarioRunner(Small(), new ScenarioOptions { Kind = ScenarioKind.KillParent, Kill = 1 });
        runner.Run();
        var c = runner.Cluster!;
        var t = c.Topology;
        var victim = c.Root.Transitions.First(x => x.Error).Node;
        var orphans = t.ChildrenOf(victim).ToArray();
        Assert.NotEmpty(orphans);
        foreach (var o in orphans)
        {
            // Right after the fail-over the orphan's parent adjacency is to its backup, and the backup holds its Dsc.
            var backup = t.Ids[t.Backup[o]];
            Assert.Contains(c.SyncOf(o)!.Adjacencies, a => a.Role == AdjacencyRole.Parent && a.Peer == backup);
            Assert.Equal("SYNC", c.StoreOf(t.Backup[o])!.GetRequired(StateView.Dsc, t.Ids[o]).Get(c.StoreOf(0)!.Schema.RunState).ToString());
        }
    }

    [Fact]
    public void Partition_is_detected_on_both_sides_and_heals()
    {
        var runner = new ScenarioRunner(Small(), new ScenarioOptions { Kind = ScenarioKind.Partition, PartitionFor = TimeSpan.FromSeconds(45) });
        var r = runner.Run();
        Assert.True(r.Converged);
        double Fig(string name) => r.Figures.Single(f => f.Name == name).Value;
        var dead = runner.Cluster!.Settings.DeadInterval.TotalSeconds;
        var hello = runner.Cluster.Settings.HelloInterval.TotalSeconds;
        Assert.InRange(Fig("root sees ERROR after"), dead - hello, dead + hello);
        Assert.InRange(Fig("cut node sees its parent dead after"), dead - hello, dead + hello);
        Assert.True(Fig("root sees SYNC again after heal") > 0);
        Assert.Equal(runner.Cluster.Count, runner.Cluster.Root.InSync);
    }

    [Fact]
    public void A_warm_three_tier_cluster_starts_tier_by_tier()
    {
        var runner = new ScenarioRunner(new SimSettings { Fanout = [3, 4, 5], Seed = 2 }, new ScenarioOptions { Warm = true });
        var r = runner.Run();
        Assert.True(r.Converged);
        Assert.Equal([3, 12, 60], r.TierCounts);
        Assert.Equal(0, r.Boots);
        Assert.True(r.Tiers[1].AllSync < r.Tiers[2].AllSync && r.Tiers[2].AllSync < r.Tiers[3].AllSync);
    }

    [Fact]
    public void Realtime_runs_no_faster_than_the_wall_clock()
    {
        var options = new ScenarioOptions { Kind = ScenarioKind.Change, WarmSpread = TimeSpan.FromMilliseconds(50), Settle = TimeSpan.FromMilliseconds(300) };
        var r = new ScenarioRunner(new SimSettings { Nodes = 20, Fanout = [5], Realtime = true }, options).Run();
        Assert.True(r.Converged);
        Assert.True(r.Simulated >= TimeSpan.FromMilliseconds(300));
        Assert.True(r.Wall >= r.Simulated * 0.9, $"{r.Simulated} simulated in {r.Wall} of wall time");
    }
}
