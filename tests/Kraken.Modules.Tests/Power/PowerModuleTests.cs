// The power module on the real reconcile engine, with the simulated driver on a virtual clock.
using Kraken.Modules.Power;
using Kraken.Tree.Reconcile;
using Kraken.Tree.State;

namespace Kraken.Modules.Tests.Power;

public class PowerModuleTests
{
    private static readonly TimeSpan s_minute = TimeSpan.FromMinutes(1);

    private static SimPowerOptions Fixed(double onSeconds = 2, double offSeconds = 1) => new()
    {
        OnDelay = SimDelay.Fixed(TimeSpan.FromSeconds(onSeconds)),
        OffDelay = SimDelay.Fixed(TimeSpan.FromSeconds(offSeconds)),
    };

    [Fact]
    public void Declaration_registers_with_the_engine_as_child_context_steps_failing_to_hang()
    {
        using var c = new PowerCluster(Fixed());
        var mutations = c.Engine.Catalog.Mutations.Where(m => m.Module == "power").Select(m => m.Id).Order(StringComparer.Ordinal).ToArray();
        Assert.Equal(["HANGtoOFF", "HANGtoON", "OFFtoON", "ONtoOFF", "UKtoOFF"], mutations);
        var declared = c.Module.Declaration.Mutations;
        Assert.All(declared, m => Assert.Equal(MutationContext.Child, m.Context));
        Assert.All(declared, m => Assert.Equal(new UrlValue("/PhysState", "PHYS_HANG"), m.FailTo));
    }

    [Fact]
    public void Cold_node_with_cfg_on_is_queried_then_powered_on_after_the_simulated_delay()
    {
        using var c = new PowerCluster(Fixed(onSeconds: 5));
        var n = c.AddNode("n1", physCfg: "POWER_ON");
        c.Time.Advance(TimeSpan.FromSeconds(4));
        Assert.Equal("POWER_OFF", c.Phys(n));
        Assert.Equal(PowerStatus.Off, c.Sim.GetState(n));
        c.Time.Advance(TimeSpan.FromSeconds(2));
        Assert.Equal("POWER_ON", c.Phys(n));
        Assert.Equal(PowerStatus.On, c.Sim.GetState(n));
        Assert.Equal(ReconcileStatus.Complete, c.Engine.GetState(n)!.Status);
    }

    [Fact]
    public void Query_of_a_node_that_is_already_on_reports_on_and_needs_no_power_command()
    {
        using var c = new PowerCluster(Fixed());
        var id = NodeId.FromName("n1");
        c.Sim.SetState(id, PowerStatus.On);
        c.AddNode("n1", physCfg: "POWER_ON");
        c.Time.Advance(TimeSpan.FromSeconds(1));
        Assert.Equal("POWER_ON", c.Phys(id));
        Assert.Equal(1, c.Sim.Calls);
    }

    [Fact]
    public void Cfg_off_powers_a_running_node_off()
    {
        using var c = new PowerCluster(Fixed(offSeconds: 3));
        var n = c.AddNode("n1", physCfg: "POWER_OFF", physDsc: "POWER_ON");
        c.Sim.SetState(n, PowerStatus.On);
        Assert.True(c.RunUntil(() => c.Phys(n) == "POWER_OFF", s_minute));
        Assert.Equal(PowerStatus.Off, c.Sim.GetState(n));
        Assert.Equal(TimeSpan.FromSeconds(3), c.Time.Elapsed);
    }

    [Fact]
    public void Bmc_that_stops_answering_ends_in_phys_hang_after_the_configured_retries()
    {
        var power = new PowerOptions { CallTimeout = TimeSpan.FromSeconds(2), Retries = 2, RetryDelay = TimeSpan.FromSeconds(1), StepTimeout = TimeSpan.FromSeconds(30), PollInterval = TimeSpan.Zero };
        using var c = new PowerCluster(Fixed(), power, new ReconcileOptions { MaxAttempts = 1 });
        var id = NodeId.FromName("n1");
        c.Sim.SetSilent(id, true);
        c.AddNode("n1", physCfg: "POWER_ON", physDsc: "POWER_OFF");
        Assert.True(c.RunUntil(() => c.Phys(id) == "PHYS_HANG", s_minute));
        Assert.Equal(3, c.Sim.Calls);

        // Three calls of 2 s with 1 s between them: the module gives up at 8 s, well before the engine's 30 s.
        Assert.Equal(TimeSpan.FromSeconds(8), c.Time.Elapsed);
        var state = c.Engine.GetState(id)!;
        Assert.Contains("no answer within 2 s", state.LastFailure, StringComparison.Ordinal);
        Assert.Contains("3 call(s)", state.LastFailure, StringComparison.Ordinal);
        Assert.Equal(0, c.Sim.Pending);
    }

    [Fact]
    public void Hung_node_recovers_with_one_reset_step_when_cfg_wants_it_on()
    {
        using var c = new PowerCluster(Fixed(onSeconds: 2));
        var n = c.AddNode("n1", physCfg: "POWER_ON", physDsc: "PHYS_HANG");
        c.Sim.SetState(n, PowerStatus.On);
        Assert.True(c.RunUntil(() => c.Phys(n) == "POWER_ON", s_minute));
        Assert.Equal(1, c.Sim.Calls);
    }

    [Fact]
    public void Node_without_power_settings_fails_at_once_with_a_reason()
    {
        using var c = new PowerCluster(Fixed(), reconcile: new ReconcileOptions { MaxAttempts = 1 });
        var id = NodeId.FromName("bare");
        var cfg = NodeRecord.Empty(id, c.Store.Schema).Edit();
        cfg.Set(c.Store.Schema.ParentId, StateValue.FromNodeId(c.Self));
        cfg.Set("/PhysState", "POWER_ON");
        c.Store.Create(cfg.Build(), NodeRecord.Empty(id, c.Store.Schema).Edit().Set("/PhysState", "POWER_OFF").Build());
        c.Time.RunUntilIdle();
        Assert.Equal("PHYS_HANG", c.Phys(id));
        Assert.Contains("/Extensions/Power/Driver", c.Engine.GetState(id)!.LastFailure, StringComparison.Ordinal);
        Assert.Equal(TimeSpan.Zero, c.Time.Elapsed);
    }

    [Fact]
    public void Polling_reports_changes_made_behind_the_engines_back_but_never_overwrites_a_hang()
    {
        var power = new PowerOptions { PollInterval = TimeSpan.FromSeconds(30) };
        using var c = new PowerCluster(Fixed(), power);
        var a = c.AddNode("a", physDsc: "POWER_OFF");
        var b = c.AddNode("b", physDsc: "PHYS_HANG");
        c.Sim.SetState(a, PowerStatus.On);
        c.Sim.SetState(b, PowerStatus.On);
        c.Time.Advance(TimeSpan.FromSeconds(29));
        Assert.Equal("POWER_OFF", c.Phys(a));
        c.Time.Advance(TimeSpan.FromSeconds(1));
        Assert.Equal("POWER_ON", c.Phys(a));
        Assert.Equal("PHYS_HANG", c.Phys(b));
        Assert.Equal(1, c.Sim.Calls);
    }

    [Fact]
    public void Polling_skips_nodes_another_daemon_powers()
    {
        var power = new PowerOptions { PollInterval = TimeSpan.FromSeconds(10) };
        using var c = new PowerCluster(Fixed(), power);
        var id = NodeId.FromName("other");
        var cfg = NodeRecord.Empty(id, c.Store.Schema).Edit();
        cfg.Set(c.Store.Schema.ParentId, StateValue.FromNodeId(NodeId.FromName("someone-else")));
        cfg.Set("/Extensions/Power/Driver", "sim");
        c.Store.Create(cfg.Build());
        c.Time.Advance(TimeSpan.FromSeconds(35));
        Assert.Equal(0, c.Sim.Calls);
    }

    [Fact]
    public void Interrupted_request_cancels_the_pending_driver_call()
    {
        using var c = new PowerCluster(Fixed(onSeconds: 20));
        var n = c.AddNode("n1", physCfg: "POWER_ON", physDsc: "POWER_OFF");
        c.Time.Advance(TimeSpan.FromSeconds(1));
        Assert.Equal(1, c.Sim.Pending);
        c.Store.Set(StateView.Cfg, n, "/PhysState", "POWER_OFF");
        c.Time.RunUntilIdle();
        Assert.Equal(0, c.Sim.Pending);
        c.Time.Advance(TimeSpan.FromSeconds(30));
        Assert.Equal(PowerStatus.Off, c.Sim.GetState(n));
        Assert.Equal("POWER_OFF", c.Phys(n));
    }

    [Fact]
    public void Same_seed_gives_the_same_run()
    {
        string Run()
        {
            var sim = new SimPowerOptions { OnDelay = SimDelay.Normal(TimeSpan.FromSeconds(3), TimeSpan.FromSeconds(1)), FailureRate = 0.1, Seed = 42 };
            using var c = new PowerCluster(sim, new PowerOptions { RetryDelay = TimeSpan.FromMilliseconds(500) });
            var ids = Enumerable.Range(0, 50).Select(i => c.AddNode("n" + i)).ToArray();
            var summary = c.Await(c.Module.RunBulkAsync(ids, PowerAction.On), TimeSpan.FromMinutes(5));
            return string.Join(";", summary.Results.Select(r => $"{r.Outcome}/{r.Calls}/{r.Duration.Ticks}"));
        }

        Assert.Equal(Run(), Run());
    }

    [Fact]
    public void Invalid_options_are_rejected_naming_the_setting()
    {
        var sim = new SimPowerDriver(TimeProvider.System);
        var e = Assert.Throws<ArgumentException>(() => new PowerModule([sim], new Kraken.Net.Execution.ManualExecutor(), TimeProvider.System, new PowerOptions { BmcConcurrency = 0 }));
        Assert.Contains("BmcConcurrency", e.Message, StringComparison.Ordinal);
        e = Assert.Throws<ArgumentException>(() => new PowerModule([sim], new Kraken.Net.Execution.ManualExecutor(), TimeProvider.System, new PowerOptions { DriverConcurrency = { ["ipmi"] = 4 } }));
        Assert.Contains("no driver named 'ipmi'", e.Message, StringComparison.Ordinal);
        e = Assert.Throws<ArgumentException>(() => new PowerModule([sim, new SimPowerDriver(TimeProvider.System)], new Kraken.Net.Execution.ManualExecutor(), TimeProvider.System));
        Assert.Contains("unique", e.Message, StringComparison.Ordinal);
        e = Assert.Throws<ArgumentException>(() => new SimPowerDriver(TimeProvider.System, new SimPowerOptions { FailureRate = 0.7, HangRate = 0.5 }));
        Assert.Contains("HangRate", e.Message, StringComparison.Ordinal);
    }
}
