// Timeouts, fail-to values, backoff, bounded attempts, and forgetting what a power-off makes unknowable.
using Kraken.Tree.Reconcile;

namespace Kraken.Tree.Tests.Reconcile;

public class EngineFailureTests
{
    private static readonly string[] s_vboxChild = ["/Platform=vbox", "/RunState=SYNC"];
    private static readonly string[] s_powerCycle = ["HANGtoOFF", "OFFtoON", "NONEtoWAIT", "WAITtoINIT", "INITtoSYNC"];

    [Fact]
    public void A_timeout_writes_fail_to_interrupts_the_module_and_replans_a_power_cycle() // items 24 and 25
    {
        using var c = new TestCluster(ModuleSets.Vbox());
        var sse = c.Module("sse");
        sse.Ignore.Add("INITtoSYNC");
        var id = c.AddNode("kr1", s_vboxChild);

        Assert.True(c.RunUntil(() => c.State(id).Status == ReconcileStatus.Backoff, TimeSpan.FromMinutes(5)));

        var timedOut = Assert.Single(sse.Requests);
        Assert.True(timedOut.Interrupted.IsCancellationRequested);
        Assert.Contains(timedOut, sse.Interrupts);
        Assert.Equal(timedOut.Deadline, c.Time.GetUtcNow());
        var s = c.State(id);
        Assert.Equal(1, s.Attempts);
        Assert.Equal("INITtoSYNC (sse) timed out after 00:01:30", s.LastFailure);
        Assert.Equal("PHYS_HANG", c.Dsc(id, ModuleSets.Phys));
        c.RunIdle();
        // A hung node's PXE state and RunState are unknowable: cleared, so the plan is a clean power cycle.
        Assert.Equal(string.Empty, c.Dsc(id, ModuleSets.Pxe));
        Assert.Equal(string.Empty, c.Dsc(id, ModuleSets.Run));

        sse.Ignore.Clear();
        c.Run(TimeSpan.FromMinutes(2));

        Assert.Equal(["UKtoOFF", "OFFtoON", "NONEtoWAIT", "WAITtoINIT", "INITtoSYNC", .. s_powerCycle], c.Dispatched(id));
        Assert.Equal(ReconcileStatus.Complete, c.State(id).Status);
        var counters = c.Engine.Counters;
        Assert.Equal(1, counters.TimedOut);
        Assert.Equal(1, counters.Failed);
    }

    [Fact]
    public void Failures_back_off_exponentially_and_the_node_is_given_up_after_max_attempts()
    {
        var options = new ReconcileOptions { MaxAttempts = 3, BackoffBase = TimeSpan.FromSeconds(1) };
        using var c = new TestCluster(ModuleSets.Realistic(), options);
        var power = c.Module("power");
        power.Ignore.Add("OFFtoON");
        var id = c.AddNode("n1", ["/PhysState=POWER_ON"], ["/PhysState=POWER_OFF"]);

        c.Run(TimeSpan.FromMinutes(10));

        // OFFtoON at 0 s times out at 10 s; 1 s backoff; HANGtoOFF at 11 s, confirmed at 12 s; OFFtoON times out at 22 s;
        // 2 s backoff; HANGtoOFF at 24 s; OFFtoON at 25 s times out at 35 s: third failure, given up.
        var starts = power.Requests.Select(r => $"{r.MutationId}@{(r.Started - c.Time.GetUtcNow() + c.Time.Elapsed).TotalSeconds}").ToList();
        Assert.Equal(["OFFtoON@0", "HANGtoOFF@11", "OFFtoON@12", "HANGtoOFF@24", "OFFtoON@25"], starts);
        var s = c.State(id);
        Assert.Equal(ReconcileStatus.Failed, s.Status);
        Assert.Equal(3, s.Attempts);
        Assert.Contains("OFFtoON", s.LastFailure, StringComparison.Ordinal);
        Assert.Equal(1, c.Engine.Counters.GaveUp);
        Assert.Equal([0, 1, 1, 2, 2], power.Requests.Select(r => r.Attempt));

        // Retry starts over.
        power.Ignore.Clear();
        c.Engine.Retry(id);
        c.Run(TimeSpan.FromMinutes(1));
        Assert.Equal(ReconcileStatus.Complete, c.State(id).Status);
        Assert.Equal(0, c.State(id).Attempts);
    }

    [Fact]
    public void A_cfg_change_gives_a_failed_node_a_fresh_start()
    {
        var options = new ReconcileOptions { MaxAttempts = 1 };
        using var c = new TestCluster(ModuleSets.Realistic(), options);
        c.Module("power").Ignore.Add("OFFtoON");
        var id = c.AddNode("n1", ["/PhysState=POWER_ON"], ["/PhysState=POWER_OFF"]);
        c.Run(TimeSpan.FromMinutes(1));
        Assert.Equal(ReconcileStatus.Failed, c.State(id).Status);
        var requests = c.Module("power").Requests.Count;

        c.Run(TimeSpan.FromMinutes(10));
        Assert.Equal(requests, c.Module("power").Requests.Count); // a failed node stays put

        c.SetCfg(id, "/PhysState", "POWER_OFF");
        c.Run(TimeSpan.FromMinutes(1));
        Assert.Equal(ReconcileStatus.Complete, c.State(id).Status);
        Assert.Equal("HANGtoOFF", c.Module("power").Requests[^1].MutationId);
    }

    [Fact]
    public void A_failure_reported_by_the_module_does_not_wait_for_the_timeout()
    {
        using var c = new TestCluster(ModuleSets.Realistic());
        var power = c.Module("power");
        power.OnRequest = r =>
        {
            if (r.MutationId == "OFFtoON" && r.Attempt == 0)
            {
                power.Host.ReportFailure(r, "BMC refused the command");
            }
            else
            {
                power.Host.Discover(r.Node, r.Mutation.Mutates[0].Url, r.Mutation.Mutates[0].To);
            }
        };
        var id = c.AddNode("n1", ["/PhysState=POWER_ON"], ["/PhysState=POWER_OFF"]);

        c.RunIdle();
        Assert.Equal(ReconcileStatus.Backoff, c.State(id).Status);
        Assert.Equal("OFFtoON (power) failed: BMC refused the command", c.State(id).LastFailure);
        Assert.Equal("PHYS_HANG", c.Dsc(id, ModuleSets.Phys));
        Assert.Equal(TimeSpan.Zero, c.Time.Elapsed);

        c.Run(TimeSpan.FromSeconds(5));
        Assert.Equal(["OFFtoON", "HANGtoOFF", "OFFtoON"], c.Dispatched(id));
        Assert.Equal(ReconcileStatus.Complete, c.State(id).Status);
        Assert.Equal(0, c.Engine.Counters.TimedOut);
        Assert.Equal(1, c.Engine.Counters.Failed);
    }

    [Fact]
    public void Powering_off_forgets_pxe_state_and_runstate_so_the_next_boot_is_planned_in_full()
    {
        using var c = new TestCluster(ModuleSets.Realistic());
        var id = c.AddNode("n1", ["/PhysState=POWER_OFF"], ["/PhysState=POWER_ON", "/Extensions/Pxe/State=COMP", "/RunState=SYNC"]);
        c.Run(TimeSpan.FromSeconds(5));
        Assert.Equal(["ONtoOFF"], c.Dispatched(id));
        Assert.Equal(string.Empty, c.Dsc(id, ModuleSets.Pxe));
        Assert.Equal(string.Empty, c.Dsc(id, ModuleSets.Run));

        c.Store.Update(Kraken.Tree.State.StateView.Cfg, id, [new(c.Store.Schema.PhysState, default), new(c.Store.Schema.RunState, Kraken.Tree.State.StateValue.FromEnum(Kraken.Tree.State.Proto.RunState.Sync))]);
        c.Run(TimeSpan.FromMinutes(1));
        Assert.Equal(["ONtoOFF", "OFFtoON", "NONEtoWAIT", "WAITtoINIT", "INITtoCOMP", "INITtoSYNC"], c.Dispatched(id));
    }

    [Fact]
    public void A_value_rediscovered_after_power_comes_back_is_not_forgotten()
    {
        using var c = new TestCluster(ModuleSets.Realistic(), new ReconcileOptions { StartFrozen = true });
        var id = c.AddNode("n1", [], ["/PhysState=POWER_ON", "/Extensions/Pxe/State=COMP", "/RunState=SYNC"]);
        c.RunIdle();

        // Off and on again, and the PXE module sees the new boot, all before the engine runs.
        c.SetDsc(id, ModuleSets.Phys, "POWER_OFF");
        c.SetDsc(id, ModuleSets.Phys, "POWER_ON");
        c.SetDsc(id, ModuleSets.Pxe, "WAIT");
        c.RunIdle();

        Assert.Equal("WAIT", c.Dsc(id, ModuleSets.Pxe));
        Assert.Equal(string.Empty, c.Dsc(id, ModuleSets.Run));
    }
}

public class EngineFaultyModuleTests
{
    [Fact]
    public void A_module_that_throws_fails_its_steps_without_stopping_the_engine()
    {
        var options = new ReconcileOptions { MaxAttempts = 1 };
        options.ModuleConcurrency["power"] = 1;
        using var c = new TestCluster(ModuleSets.Realistic(), options);
        c.Module("power").OnRequest = _ => throw new InvalidOperationException("driver crashed");
        var ids = Enumerable.Range(0, 5000).Select(i => c.AddNode("n" + i, ["/PhysState=POWER_ON"], ["/PhysState=POWER_OFF"])).ToList();

        c.RunIdle();

        Assert.All(ids, id => Assert.Equal(ReconcileStatus.Failed, c.State(id).Status));
        Assert.Equal("OFFtoON (power) failed: the module threw InvalidOperationException: driver crashed", c.State(ids[0]).LastFailure);
        Assert.Equal(5000, c.Engine.Counters.Failed);
        Assert.Equal((0, 0), c.Engine.ModuleLoad()["power"]);
    }
}
