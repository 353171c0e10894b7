// Bulk operations: bounded concurrency per driver and per BMC, timeouts, retries and the summary.
using Kraken.Modules.Power;
using Kraken.Tree.State;

namespace Kraken.Modules.Tests.Power;

public class BulkPowerTests
{
    [Fact]
    public void Bulk_power_on_of_200_simulated_nodes_respects_both_bounds_and_counts_every_outcome()
    {
        CountingDriver? counter = null;
        var sim = new SimPowerOptions
        {
            OnDelay = SimDelay.Uniform(TimeSpan.FromSeconds(1), TimeSpan.FromSeconds(4)),
            FailureRate = 0.05,
            HangRate = 0.05,
            Seed = 7,
        };
        var power = new PowerOptions { DefaultDriverConcurrency = 16, BmcConcurrency = 1, CallTimeout = TimeSpan.FromSeconds(10), Retries = 0, PollInterval = TimeSpan.Zero };
        using var c = new PowerCluster(sim, power, wrap: d => counter = new CountingDriver(d));

        // 200 nodes behind 50 BMCs (4 nodes per chassis controller).
        var ids = Enumerable.Range(0, 200).Select(i => c.AddNode($"n{i:000}", bmc: $"10.0.0.{i / 4}")).ToArray();
        var task = c.Module.RunBulkAsync(ids, PowerAction.On);
        c.Time.RunUntil(() => task.IsCompleted, TimeSpan.FromHours(1));
        Assert.True(task.IsCompleted, $"elapsed {c.Time.Elapsed} pending {c.Sim.Pending} calls {c.Sim.Calls} counter {counter!.Calls} timers {c.Time.PendingTimers} load {string.Join(",", c.Module.Load())}");
        var summary = c.Await(task, TimeSpan.Zero);
        Assert.Equal(200, summary.Requested);
        Assert.Equal(200, summary.Ok + summary.Failed + summary.TimedOut);
        Assert.Equal(16, counter!.PeakInFlight);
        Assert.Equal(1, counter.PeakPerBmc);
        Assert.Equal(200, counter.Calls);
        Assert.InRange(summary.Failed, 1, 30);
        Assert.InRange(summary.TimedOut, 1, 30);

        // Every result agrees with the simulated BMCs and with Dsc.
        for (var i = 0; i < ids.Length; i++)
        {
            var r = summary.Results[i];
            Assert.Equal(ids[i], r.Node);
            var on = c.Sim.GetState(ids[i]) == PowerStatus.On;
            Assert.Equal(r.Outcome == BulkOutcome.Ok, on);
            Assert.Equal(on ? "POWER_ON" : "", c.Phys(ids[i]));
            switch (r.Outcome)
            {
                case BulkOutcome.Failed:
                    Assert.Equal(PowerErrorKind.Refused, r.Error);
                    Assert.Contains("refused On", r.Reason, StringComparison.Ordinal);
                    break;
                case BulkOutcome.TimedOut:
                    Assert.Equal("no answer within 10 s", r.Reason);
                    break;
            }
        }

        var reasons = summary.FailureReasons();
        Assert.Equal(summary.TimedOut, reasons.Single(x => x.Reason == "no answer within 10 s").Count);
    }

    [Fact]
    public void Transient_failures_are_retried_and_counted_per_node()
    {
        var power = new PowerOptions { CallTimeout = TimeSpan.FromSeconds(1), Retries = 3, RetryDelay = TimeSpan.FromSeconds(2), PollInterval = TimeSpan.Zero };
        using var c = new PowerCluster(new SimPowerOptions { OffDelay = SimDelay.Fixed(TimeSpan.FromMilliseconds(100)) }, power);
        var quiet = c.AddNode("quiet");
        var fine = c.AddNode("fine");
        c.Sim.SetSilent(quiet, true);
        var summary = c.Await(c.Module.RunBulkAsync([quiet, fine], PowerAction.Off), TimeSpan.FromMinutes(1));
        Assert.Equal(BulkOutcome.TimedOut, summary.Results[0].Outcome);
        Assert.Equal(4, summary.Results[0].Calls);
        Assert.Equal(TimeSpan.FromSeconds(4 + 6), summary.Results[0].Duration);
        Assert.Equal(BulkOutcome.Ok, summary.Results[1].Outcome);
        Assert.Equal(1, summary.Results[1].Calls);
        Assert.Equal(PowerStatus.Off, summary.Results[1].Status);
        Assert.Equal(summary.Results[0].Duration, summary.Elapsed);
    }

    [Fact]
    public void Unknown_nodes_missing_settings_and_unknown_drivers_fail_with_reasons_and_change_nothing()
    {
        using var c = new PowerCluster(new SimPowerOptions(), new PowerOptions { PollInterval = TimeSpan.Zero });
        var ghost = NodeId.FromName("ghost");
        var bare = NodeId.FromName("bare");
        c.Store.Create(NodeRecord.Empty(bare, c.Store.Schema));
        var odd = c.AddNode("odd", driver: "nosuch");
        var summary = c.Await(c.Module.RunBulkAsync([ghost, bare, odd], PowerAction.On), TimeSpan.FromSeconds(1));
        Assert.Equal(3, summary.Failed);
        Assert.Contains("no node", summary.Results[0].Reason, StringComparison.Ordinal);
        Assert.Contains("/Extensions/Power/Driver", summary.Results[1].Reason, StringComparison.Ordinal);
        Assert.Contains("no power driver named 'nosuch'", summary.Results[2].Reason, StringComparison.Ordinal);
        Assert.Equal(0, c.Sim.Calls);
        Assert.False(c.Store.GetRequired(StateView.Dsc, odd).Get(c.Store.Schema.PhysState).IsSet);
    }

    [Fact]
    public void Cancelling_a_bulk_run_ends_pending_calls_as_failed_cancelled()
    {
        using var c = new PowerCluster(new SimPowerOptions { OnDelay = SimDelay.Fixed(TimeSpan.FromSeconds(5)) }, new PowerOptions { PollInterval = TimeSpan.Zero });
        var ids = Enumerable.Range(0, 4).Select(i => c.AddNode("n" + i)).ToArray();
        using var cts = new CancellationTokenSource();
        var task = c.Module.RunBulkAsync(ids, PowerAction.On, cancellationToken: cts.Token);
        c.Time.Advance(TimeSpan.FromSeconds(1));
        Assert.Equal(4, c.Sim.Pending);
        cts.Cancel();
        var summary = c.Await(task, TimeSpan.FromSeconds(1));
        Assert.Equal(4, summary.Failed);
        Assert.All(summary.Results, r => Assert.Equal("cancelled", r.Reason));
        Assert.Equal(0, c.Sim.Pending);
        Assert.All(ids, id => Assert.Equal(PowerStatus.Off, c.Sim.GetState(id)));
    }

    [Fact]
    public void Empty_run_completes_with_an_empty_summary()
    {
        using var c = new PowerCluster(new SimPowerOptions(), new PowerOptions { PollInterval = TimeSpan.Zero });
        var summary = c.Await(c.Module.RunBulkAsync(Array.Empty<NodeId>(), PowerAction.Status), TimeSpan.FromSeconds(1));
        Assert.Equal(0, summary.Requested);
    }
}
