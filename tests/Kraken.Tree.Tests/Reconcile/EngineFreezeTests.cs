// Freeze and thaw; determinism of whole runs; the metrics the engine publishes.
using System.Diagnostics.Metrics;
using Kraken.Tree.Reconcile;

namespace Kraken.Tree.Tests.Reconcile;

public class EngineFreezeTests
{
    private static readonly string[] s_sync = ["/RunState=SYNC"];

    [Fact]
    public void Frozen_engine_dispatches_nothing_and_thaw_replans_every_node() // item 26
    {
        using var c = new TestCluster(ModuleSets.Realistic(), new ReconcileOptions { StartFrozen = true });
        var a = c.AddNode("a", s_sync);
        var b = c.AddNode("b", ["/PhysState=POWER_OFF"], ["/PhysState=POWER_ON"]);
        c.Run(TimeSpan.FromMinutes(5));

        Assert.True(c.Engine.IsFrozen);
        Assert.Empty(c.Log);

        c.Engine.Thaw();
        c.Run(TimeSpan.FromMinutes(1));

        Assert.False(c.Engine.IsFrozen);
        Assert.Equal(ReconcileStatus.Complete, c.State(a).Status);
        Assert.Equal(ReconcileStatus.Complete, c.State(b).Status);
        Assert.Equal(["ONtoOFF"], c.Dispatched(b));
    }

    [Fact]
    public void Freeze_mid_path_holds_dispatch_and_thaw_resumes_from_current_dsc()
    {
        using var c = new TestCluster(ModuleSets.Realistic());
        c.Module("pxe").Ignore.Add("NONEtoWAIT");
        var id = c.AddNode("n1", s_sync, ["/PhysState=POWER_OFF"]);
        c.Run(TimeSpan.FromSeconds(2));
        var inFlight = c.Module("pxe").Requests.Single();

        c.Engine.Freeze();
        c.RunIdle();
        Assert.True(inFlight.Interrupted.IsCancellationRequested);
        Assert.Equal(ReconcileStatus.Frozen, c.State(id).Status);

        // Progress made while frozen is recorded but acted on only after the thaw.
        c.SetDsc(id, ModuleSets.Pxe, "WAIT");
        c.Run(TimeSpan.FromMinutes(5));
        Assert.Equal(["OFFtoON", "NONEtoWAIT"], c.Dispatched(id));
        Assert.Equal(0, c.Engine.Counters.TimedOut);

        c.Module("pxe").Ignore.Clear();
        c.Engine.Thaw();
        c.Run(TimeSpan.FromMinutes(1));
        Assert.Equal(["OFFtoON", "NONEtoWAIT", "WAITtoINIT", "INITtoCOMP", "INITtoSYNC"], c.Dispatched(id));
        Assert.Equal(ReconcileStatus.Complete, c.State(id).Status);
    }

    [Fact]
    public void Thaw_cancels_stale_timers()
    {
        using var c = new TestCluster(ModuleSets.Realistic());
        var power = c.Module("power");
        power.Ignore.Add("OFFtoON");
        var id = c.AddNode("n1", ["/PhysState=POWER_ON"], ["/PhysState=POWER_OFF"]);
        c.Run(TimeSpan.FromSeconds(5)); // OFFtoON due to time out at 10 s

        c.Engine.Freeze();
        c.Run(TimeSpan.FromSeconds(3));
        c.Engine.Thaw();
        c.RunIdle(); // at 8 s: OFFtoON again, due at 18 s

        c.Run(TimeSpan.FromSeconds(9)); // past the old deadline, before the new one
        Assert.Equal(0, c.Engine.Counters.TimedOut);
        Assert.Equal("POWER_OFF", c.Dsc(id, ModuleSets.Phys));
        Assert.Equal(2, power.Requests.Count);
        Assert.Equal(c.Time.GetUtcNow() + TimeSpan.FromSeconds(1), c.State(id).Deadline);

        c.Run(TimeSpan.FromSeconds(1));
        Assert.Equal(1, c.Engine.Counters.TimedOut);
        Assert.Equal("PHYS_HANG", c.Dsc(id, ModuleSets.Phys));
    }

    [Fact]
    public void The_same_inputs_give_the_same_run()
    {
        static List<string> RunOnce()
        {
            using var c = new TestCluster(ModuleSets.Realistic(), new ReconcileOptions { MaxAttempts = 2 });
            c.Module("runstate").Ignore.Add("INITtoSYNC");
            var trace = new List<string>();
            foreach (var m in c.Modules)
            {
                m.OnRequest = null;
            }

            for (var i = 0; i < 30; i++)
            {
                c.AddNode("n" + i, i % 3 == 0 ? ["/PhysState=POWER_OFF"] : s_sync, i % 2 == 0 ? ["/PhysState=POWER_ON"] : []);
            }

            c.Run(TimeSpan.FromMinutes(10));
            foreach (var m in c.Modules)
            {
                trace.AddRange(m.Requests.Select(r => $"{r.Started.Ticks} {r.Node} {r.MutationId} {r.Attempt}"));
            }

            trace.Add(c.Engine.Counters.ToString());
            return trace;
        }

        var first = RunOnce();
        Assert.Equal(first, RunOnce());
        Assert.True(first.Count > 60);
    }

    [Fact]
    public void Counters_are_published_through_system_diagnostics_metrics()
    {
        using var meter = new Meter(ReconcileMetrics.MeterName);
        var totals = new Dictionary<string, long>();
        using var listener = new MeterListener();
        listener.InstrumentPublished = (instrument, l) =>
        {
            if (ReferenceEquals(instrument.Meter, meter))
            {
                l.EnableMeasurementEvents(instrument);
            }
        };
        listener.SetMeasurementEventCallback<long>((instrument, value, tags, _) =>
        {
            lock (totals)
            {
                totals[instrument.Name] = totals.GetValueOrDefault(instrument.Name) + value;
            }
        });
        listener.Start();

        using var c = new TestCluster(ModuleSets.Realistic(), new ReconcileOptions { Meter = meter });
        c.Module("runstate").Ignore.Add("INITtoSYNC");
        c.AddNode("n1", s_sync, ["/PhysState=POWER_OFF"]);
        c.AddNode("n2", s_sync, ["/PhysState=POWER_OFF"]);
        c.Run(TimeSpan.FromSeconds(94.5)); // both INITtoSYNC steps timed out at 94 s; retries wait until 95 s

        var counters = c.Engine.Counters;
        Assert.Equal(counters.Dispatched, totals["kraken.reconcile.mutations.dispatched"]);
        Assert.Equal(counters.Confirmed, totals["kraken.reconcile.mutations.confirmed"]);
        Assert.Equal(counters.TimedOut, totals["kraken.reconcile.mutations.timed_out"]);
        Assert.Equal(counters.Failed, totals["kraken.reconcile.mutations.failed"]);
        Assert.Equal(counters.PlansComputed, totals["kraken.reconcile.plans.computed"]);
        Assert.Equal(counters.PlanCacheHits, totals["kraken.reconcile.plans.reused"]);
        Assert.Equal(10, counters.Dispatched);
        Assert.Equal(8, counters.Confirmed);
        Assert.Equal(2, counters.TimedOut);
        Assert.True(counters.PlanCacheHits > 0);
    }
}
