// The engine's step events (ReconcileOptions.MutationObserver), which the daemon streams to its clients.
using Kraken.Tree.Reconcile;

namespace Kraken.Tree.Tests.Reconcile;

public class MutationObserverTests
{
    [Fact]
    public void Every_step_reports_dispatch_and_confirmation_in_order()
    {
        var events = new List<MutationEvent>();
        using var c = new TestCluster(ModuleSets.Realistic(), new ReconcileOptions { MutationObserver = events.Add });
        var b = c.AddNode("b", ["/PhysState=POWER_ON"], ["/PhysState=POWER_OFF"]);
        c.Run(TimeSpan.FromMinutes(1));

        Assert.Equal(
            [(MutationEventKind.Dispatched, "OFFtoON"), (MutationEventKind.Confirmed, "OFFtoON")],
            events.Select(e => (e.Kind, e.Mutation)));
        Assert.All(events, e => Assert.Equal(b, e.Node));
        Assert.All(events, e => Assert.Equal("power", e.Module));
        Assert.True(events[1].At > events[0].At);
    }

    [Fact]
    public void A_timed_out_step_reports_its_reason()
    {
        var events = new List<MutationEvent>();
        using var c = new TestCluster(ModuleSets.Realistic(), new ReconcileOptions { MutationObserver = events.Add });
        c.Module("power").Ignore.Add("OFFtoON");
        c.AddNode("b", ["/PhysState=POWER_ON"], ["/PhysState=POWER_OFF"]);
        c.Run(TimeSpan.FromSeconds(15));

        // The step is dispatched, abandoned at its timeout (interrupting the module), then reported as timed out;
        // the fail-to value (PHYS_HANG) then leads to a recovery step, which the module does confirm.
        Assert.Equal(
            [(MutationEventKind.Dispatched, "OFFtoON"), (MutationEventKind.Interrupted, "OFFtoON"), (MutationEventKind.TimedOut, "OFFtoON")],
            events.Take(3).Select(e => (e.Kind, e.Mutation)));
        Assert.Contains("timed out", events[2].Reason, StringComparison.Ordinal);
        Assert.DoesNotContain(events, e => e.Kind == MutationEventKind.Confirmed && e.Mutation == "OFFtoON");
        Assert.Contains(events, e => e.Kind == MutationEventKind.Confirmed && e.Mutation == "HANGtoOFF");
    }
}
