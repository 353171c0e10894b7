// The restart grace: a restarted parent leaves alone, for a while, the children that look alive and have not reported.
using Kraken.Tree.Reconcile;
using Kraken.Tree.State;

namespace Kraken.Tree.Tests.Reconcile;

public class EngineRestartGraceTests
{
    private static readonly string[] s_onAndSync = [$"{ModuleSets.Phys}=POWER_ON", $"{ModuleSets.Run}=SYNC"];
    private static readonly string[] s_on = [$"{ModuleSets.Phys}=POWER_ON"];
    private static readonly string[] s_off = [$"{ModuleSets.Phys}=POWER_OFF"];

    // Powered on, RunState not known: what a restarted parent reads of a child whose daemon still runs.
    private static bool PoweredOnUnreported(NodeRecord cfg, NodeRecord dsc) =>
        dsc.Get(dsc.Schema.PhysState).ToString() == "POWER_ON" && !dsc.Get(dsc.Schema.RunState).IsSet;

    private static ReconcileOptions Grace(TimeSpan grace) => new() { RestartGrace = grace, HoldDuringGrace = PoweredOnUnreported };

    [Fact]
    public void Children_that_look_alive_are_held_until_they_report_or_the_grace_ends()
    {
        using var c = new TestCluster(ModuleSets.Realistic(), Grace(TimeSpan.FromMinutes(2)));
        var alive = c.AddNode("alive", s_onAndSync, s_on);
        var silent = c.AddNode("silent", s_onAndSync, s_on);
        var off = c.AddNode("off", s_onAndSync, s_off);
        c.Run(TimeSpan.FromSeconds(30));

        // A child that is off is booted at once; the other two are held, with the grace's end as deadline.
        Assert.NotEmpty(c.Dispatched(off));
        Assert.Equal(ReconcileStatus.Holding, c.State(alive).Status);
        Assert.Equal(ReconcileStatus.Holding, c.State(silent).Status);
        Assert.Equal(c.Time.GetUtcNow() + TimeSpan.FromSeconds(90), c.State(silent).Deadline);

        // One joins (its RunState arrives): nothing was done to it, and nothing is.
        c.SetDsc(alive, ModuleSets.Run, "SYNC");
        c.Run(TimeSpan.FromSeconds(89));
        Assert.Equal(ReconcileStatus.Complete, c.State(alive).Status);
        Assert.Empty(c.Dispatched(alive));
        Assert.Empty(c.Dispatched(silent));

        // The other never reports: at the grace's end the engine boots it as it would have at once without the grace.
        c.Run(TimeSpan.FromSeconds(2));
        Assert.NotEmpty(c.Dispatched(silent));
        Assert.NotEqual(ReconcileStatus.Holding, c.State(silent).Status);
        c.Run(TimeSpan.FromMinutes(30));
        Assert.Empty(c.Dispatched(alive));
    }

    [Fact]
    public void The_grace_does_not_hold_a_node_the_engine_has_acted_on_nor_runs_without_a_predicate()
    {
        // Without a grace (or a predicate) a powered-on node with no RunState is acted on at once.
        using (var none = new TestCluster(ModuleSets.Realistic(), Grace(TimeSpan.Zero)))
        {
            var n = none.AddNode("n", s_onAndSync, s_on);
            none.Run(TimeSpan.FromSeconds(5));
            Assert.NotEmpty(none.Dispatched(n));
        }

        using (var noPredicate = new TestCluster(ModuleSets.Realistic(), new ReconcileOptions { RestartGrace = TimeSpan.FromMinutes(2) }))
        {
            var n = noPredicate.AddNode("n", s_onAndSync, s_on);
            noPredicate.Run(TimeSpan.FromSeconds(5));
            Assert.NotEmpty(noPredicate.Dispatched(n));
        }

        // A node this engine powered on itself is not held afterwards, within the grace.
        using var c = new TestCluster(ModuleSets.Realistic(), Grace(TimeSpan.FromMinutes(10)));
        var booted = c.AddNode("booted", s_onAndSync, s_off);
        c.RunUntil(() => c.Dsc(booted, ModuleSets.Phys) == "POWER_ON", TimeSpan.FromMinutes(1));
        c.Run(TimeSpan.FromSeconds(5));
        Assert.NotEqual(ReconcileStatus.Holding, c.State(booted).Status);
        Assert.True(c.Dispatched(booted).Count >= 2, string.Join(", ", c.Dispatched(booted)));
    }

    [Fact]
    public void A_negative_grace_is_refused_naming_the_setting()
    {
        var ex = Assert.Throws<ArgumentException>(() => new TestCluster(ModuleSets.Realistic(), Grace(TimeSpan.FromSeconds(-1))));
        Assert.Contains("RestartGrace", ex.Message, StringComparison.Ordinal);
    }
}
