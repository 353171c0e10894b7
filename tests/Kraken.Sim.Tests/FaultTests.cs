// Network faults in the simulator: heavy loss with duplication and reordering, and subtree partitions during a
// cold boot and during a Cfg change.
using Kraken.Sim.Cluster;
using Kraken.Sim.Reports;
using Kraken.Sim.Scenarios;

namespace Kraken.Sim.Tests;

public class FaultTests
{
    private static readonly string[] s_partitionAtWithPartitionScenario = ["run", "--scenario", "partition", "--partition-at", "10s"];

    private static SimSettings Small(int nodes, int fanout) => new() { Nodes = nodes, Fanout = [fanout], Seed = 3 };

    private static double Fig(SimResult r, string name) => r.Figures.Single(f => f.Name == name).Value;

    private static string Describe(SimResult r) => string.Join("; ", r.Figures.Select(f => $"{f.Name} = {f.Value}"));

    [Fact]
    public void A_cold_boot_converges_under_thirty_percent_loss_with_duplication_and_reordering()
    {
        // A dead interval of 20 hellos: at 30 % loss, 20 lost hellos in a row (0.3^20) never happen, so no live
        // adjacency is declared dead; what remains are lost DHCP exchanges and sync messages sent again.
        var s = Small(60, 6) with
        {
            Loss = 0.30, Duplicate = 0.05, Reorder = 0.10, ReorderDelay = TimeSpan.FromMilliseconds(20),
            Hello = TimeSpan.FromSeconds(1), Dead = TimeSpan.FromSeconds(20),
        };
        var runner = new ScenarioRunner(s, new ScenarioOptions());
        var r = runner.Run();
        var c = runner.Cluster!;

        Assert.True(r.Converged, Describe(r));
        Assert.Equal(c.Count, c.Root.InSync);
        Assert.True(c.Network.Lost > 0 && c.Network.Duplicated > 0);
        Assert.True(r.Dhcp!.Lost > 0 && r.Dhcp.Retransmissions > 0);

        // Every node's store has its Cfg from the root, although almost a third of all datagrams went missing.
        var root = c.StoreOf(0)!;
        for (var i = 1; i <= c.Count; i++)
        {
            var id = c.Topology.Ids[i];
            Assert.True(root.GetRequired(Tree.State.StateView.Cfg, id).ValuesEqual(c.StoreOf(i)!.GetRequired(Tree.State.StateView.Cfg, id)), $"node {i}'s Cfg differs");
        }

        // The same seed gives the same faulty run.
        var again = new ScenarioRunner(s, new ScenarioOptions()).Run();
        Assert.Equal(r.Bytes, again.Bytes);
        Assert.Equal(r.Simulated, again.Simulated);
        Assert.Equal(r.Figures.Select(f => f.Value), again.Figures.Select(f => f.Value));
    }

    [Fact]
    public void At_thirty_percent_loss_a_fixed_dead_interval_of_four_hellos_power_cycles_live_nodes_and_the_stretched_one_does_not()
    {
        // Fixed at 20 s (5 s hellos): four hellos lost in a row happen every few minutes per adjacency, the root
        // sees ERROR and its reconcile engine power-cycles a node that was up.
        var s = Small(60, 6) with { Loss = 0.30, Limit = TimeSpan.FromMinutes(20), MaxDead = TimeSpan.FromSeconds(20) };
        var r = new ScenarioRunner(s, new ScenarioOptions()).Run();
        Assert.True(Fig(r, "ERROR reports at the root") > 10, Describe(r));
        Assert.True(r.PowerLosses > 10, $"{r.PowerLosses} power-offs");
        Assert.True(r.Boots > 60 + 10, $"{r.Boots} boots");

        // The default: each adjacency stretches its dead interval by the loss it measures (70 s at 30 %).
        var stretched = new ScenarioRunner(s with { MaxDead = null }, new ScenarioOptions()).Run();
        Assert.Equal(0, Fig(stretched, "ERROR reports at the root"));
        Assert.True(stretched.Converged, Describe(stretched));
        Assert.True(stretched.PowerLosses < r.PowerLosses, $"{stretched.PowerLosses} power-offs stretched, {r.PowerLosses} fixed");
    }

    [Fact]
    public void A_subtree_cut_during_the_cold_boot_joins_after_the_heal_and_the_rest_does_not_wait()
    {
        var s = Small(100, 10);
        var at = TimeSpan.FromSeconds(30);
        var heal = at + TimeSpan.FromSeconds(60);
        var runner = new ScenarioRunner(s, new ScenarioOptions { PartitionAt = at, PartitionFor = TimeSpan.FromSeconds(60) });
        var r = runner.Run();
        var c = runner.Cluster!;
        var t = c.Topology;

        Assert.True(r.Converged, Describe(r));
        Assert.Equal(c.Count, c.Root.InSync);
        var subtree = new[] { 1 }.Concat(t.ChildrenOf(1).ToArray()).ToHashSet();
        Assert.Equal(subtree.Count, Fig(r, "partitioned subtree"));
        Assert.True(Fig(r, "100 % SYNC after heal") > 0);

        // At 30 s the first tier-1 node is still booting (firmware alone takes about 20 s): it cannot lease an
        // address or join until the heal, and nothing below it can join before it does.
        Assert.All(subtree, i => Assert.True(c.Root.FirstSync[i] > heal.Ticks, $"node {i} in SYNC at the root during the cut"));

        // The other tier-1 nodes boot and join meanwhile.
        for (var i = 2; i <= t.TierCounts[1]; i++)
        {
            Assert.InRange(c.Root.FirstSync[i], at.Ticks, heal.Ticks);
        }
    }

    [Fact]
    public void A_change_made_during_a_partition_reaches_the_cut_subtree_after_the_heal()
    {
        var runner = new ScenarioRunner(Small(200, 10), new ScenarioOptions { Kind = ScenarioKind.Partition, PartitionFor = TimeSpan.FromSeconds(40), PartitionChange = true });
        var r = runner.Run();
        var c = runner.Cluster!;

        Assert.True(r.Converged, Describe(r));
        Assert.Equal(c.Count, c.Root.MatchedCount);
        Assert.Equal(c.Count, c.Root.InSync);

        // Outside the cut the change goes round at once; inside, not before the heal.
        Assert.InRange(Fig(r, "change seen at root outside the cut max"), 0.001, 0.1);
        Assert.True(Fig(r, "change seen at root inside the cut, after heal p50") > 0);
        var t = c.Topology;
        var healTicks = TimeSpan.FromSeconds(Fig(r, "partition at") + Fig(r, "partition lasted")).Ticks;
        foreach (var i in new[] { 1 }.Concat(t.ChildrenOf(1).ToArray()))
        {
            Assert.True(c.Root.Matched![i] >= healTicks, $"node {i} showed the change during the cut");
        }

        // The cut was a real one: the root saw the cut node in ERROR.
        Assert.True(Fig(r, "root sees ERROR after") > 0);
    }

    [Theory]
    [InlineData(new[] { "run", "--reorder-delay", "-5ms" }, "--reorder-delay: '-5ms' is not a duration")]
    [InlineData(new[] { "run", "--scenario", "partition", "--partition-at", "10s" }, "--partition-at applies to the coldboot scenario")]
    [InlineData(new[] { "run", "--partition-at", "10s", "--warm" }, "--partition-at cuts during a cold boot")]
    [InlineData(new[] { "run", "--partition-change" }, "--partition-change applies to the partition scenario")]
    [InlineData(new[] { "run", "--scenario", "partition", "--partition-for", "0s" }, "--partition-for must be positive")]
    [InlineData(new[] { "run", "--partition-at", "soon" }, "--partition-at: 'soon' is not a duration")]
    public void Bad_fault_options_are_named_and_nothing_runs(string[] args, string message)
    {
        var stdout = new StringWriter();
        var stderr = new StringWriter();
        Assert.Equal(2, Program.Run(args, stdout, stderr));
        Assert.Contains(message, stderr.ToString(), StringComparison.Ordinal);
        Assert.Equal(string.Empty, stdout.ToString());
    }

    [Fact]
    public void Fault_options_parse_into_the_settings_and_the_scenario()
    {
        var c = Cli.SimCommand.Parse(["run", "--dup", "5%", "--reorder", "0.1", "--reorder-delay", "20ms", "--partition-at", "1m", "--partition-for", "30s"]);
        Assert.Equal(0.05, c.Settings.Duplicate, 9);
        Assert.Equal(0.1, c.Settings.Reorder, 9);
        Assert.Equal(TimeSpan.FromMilliseconds(20), c.Settings.Conditions.ReorderDelay);
        Assert.Equal(TimeSpan.FromMinutes(1), c.Scenario.PartitionAt);
        Assert.Equal(TimeSpan.FromSeconds(30), c.Scenario.PartitionFor);
        Assert.True(Cli.SimCommand.Parse(["run", "--scenario", "partition", "--partition-change"]).Scenario.PartitionChange);
        Assert.Throws<ArgumentException>(() => Cli.SimCommand.Parse(s_partitionAtWithPartitionScenario));
    }
}
