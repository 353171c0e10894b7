// Running plans: dispatch in order, confirmation through Dsc, re-plans, context, concurrency and deletion.
using Kraken.Tree.Reconcile;
using Kraken.Tree.State;

namespace Kraken.Tree.Tests.Reconcile;

public class EngineExecutionTests
{
    private static readonly string[] s_sync = ["/RunState=SYNC"];
    private static readonly string[] s_coldBoot = ["UKtoOFF", "OFFtoON", "NONEtoWAIT", "WAITtoINIT", "INITtoCOMP", "INITtoSYNC"];

    [Fact]
    public void Cold_node_reaches_cfg_through_the_expected_path_in_order()
    {
        using var c = new TestCluster(ModuleSets.Realistic());
        var unknown = c.AddNode("unknown", s_sync);
        var off = c.AddNode("off", s_sync, ["/PhysState=POWER_OFF"]);

        c.Run(TimeSpan.FromMinutes(1));

        Assert.Equal(s_coldBoot, c.Dispatched(unknown));
        Assert.Equal(s_coldBoot[1..], c.Dispatched(off));
        foreach (var id in new[] { unknown, off })
        {
            Assert.Equal(ReconcileStatus.Complete, c.State(id).Status);
            Assert.Equal("POWER_ON", c.Dsc(id, ModuleSets.Phys));
            Assert.Equal("COMP", c.Dsc(id, ModuleSets.Pxe));
            Assert.Equal("SYNC", c.Dsc(id, ModuleSets.Run));
        }

        var counters = c.Engine.Counters;
        Assert.Equal(11, counters.Dispatched);
        Assert.Equal(11, counters.Confirmed);
        Assert.Equal(0, counters.TimedOut);
    }

    [Fact]
    public void Introspection_shows_plan_step_start_and_deadline()
    {
        using var c = new TestCluster(ModuleSets.Realistic());
        var id = c.AddNode("n1", s_sync, ["/PhysState=POWER_OFF"]);
        c.RunIdle();

        var s = c.State(id);
        Assert.Equal(ReconcileStatus.Running, s.Status);
        Assert.Equal(s_coldBoot[1..], s.Plan!.Steps.Select(p => p.Mutation.Id));
        Assert.Equal(0, s.CurrentStep);
        Assert.Equal("OFFtoON", s.Step!.Mutation.Id);
        Assert.Equal(c.Time.GetUtcNow(), s.Started);
        Assert.Equal(c.Time.GetUtcNow() + TimeSpan.FromSeconds(10), s.Deadline);
        Assert.Equal(0, s.Attempts);
        Assert.Null(s.LastFailure);

        c.Run(TimeSpan.FromSeconds(1));
        s = c.State(id);
        Assert.Equal(1, s.CurrentStep);
        Assert.Equal("NONEtoWAIT", s.Step!.Mutation.Id);
        Assert.Equal(c.Time.GetUtcNow(), s.Started);
    }

    [Fact]
    public void A_node_at_its_goal_gets_no_mutation() // item 15
    {
        using var c = new TestCluster(ModuleSets.Realistic());
        var id = c.AddNode("n1", ["/RunState=SYNC", "/PhysState=POWER_ON"], ["/PhysState=POWER_ON", "/RunState=SYNC", "/Extensions/Pxe/State=COMP"]);

        c.Run(TimeSpan.FromMinutes(1));

        Assert.Empty(c.Log);
        Assert.Equal(ReconcileStatus.Complete, c.State(id).Status);
    }

    [Fact]
    public void An_unsupported_platform_gets_no_mutation_and_a_visible_reason() // item 17
    {
        using var c = new TestCluster(ModuleSets.Vbox());
        var id = c.AddNode("n1", ["/Platform=ipmi", "/PhysState=POWER_ON"], ["/PhysState=POWER_OFF"]);

        c.Run(TimeSpan.FromMinutes(1));

        Assert.Empty(c.Log);
        var s = c.State(id);
        Assert.Equal(ReconcileStatus.Unreachable, s.Status);
        Assert.Contains("/PhysState = POWER_ON", s.Reason, StringComparison.Ordinal);
        Assert.Contains("/Platform = vbox", s.Reason, StringComparison.Ordinal);
        Assert.Equal(1, c.Engine.Counters.Unreachable);

        // Fixing the platform makes it reachable.
        c.SetCfg(id, "/Platform", "vbox");
        c.Run(TimeSpan.FromMinutes(1));
        Assert.Equal(["OFFtoON"], c.Dispatched(id));
        Assert.Equal(ReconcileStatus.Complete, c.State(id).Status);
    }

    [Fact]
    public void Child_mutations_run_only_on_the_responsible_parent_which_others_follow() // item 18
    {
        var parent = NodeId.FromName("parent");
        var other = NodeId.FromName("other-parent");
        using var c = new TestCluster(ModuleSets.Realistic(), self: parent);
        var id = c.AddNode("n1", s_sync, ["/PhysState=POWER_OFF"]);
        c.SetCfg(id, "/ParentId", other.ToString());
        c.Run(TimeSpan.FromMinutes(5));

        Assert.Empty(c.Log);
        var s = c.State(id);
        Assert.Equal(ReconcileStatus.Following, s.Status);
        Assert.Null(s.Deadline); // no timer for a step this daemon does not run
        Assert.Equal(0, c.Engine.Counters.TimedOut);

        // The other parent's progress arrives through Dsc: this engine follows along the plan.
        c.SetDsc(id, ModuleSets.Phys, "POWER_ON");
        c.RunIdle();
        Assert.Equal("NONEtoWAIT", c.State(id).Step!.Mutation.Id);

        // After fail-over this daemon is the parent and takes over the step in progress.
        c.SetCfg(id, "/ParentId", parent.ToString());
        c.Run(TimeSpan.FromMinutes(1));
        Assert.Equal(["NONEtoWAIT", "WAITtoINIT", "INITtoCOMP", "INITtoSYNC"], c.Dispatched(id));
        Assert.Equal(ReconcileStatus.Complete, c.State(id).Status);
    }

    [Fact]
    public void Self_and_all_contexts_decide_who_dispatches()
    {
        ModuleDeclaration[] modules =
        [
            new("agent") { Mutations = [new("INITtoSYNC") { Mutates = [new("/RunState", "INIT", "SYNC")], Context = MutationContext.Self }] },
            new("everywhere") { Mutations = [new("OFFtoON") { Mutates = [new("/PhysState", "POWER_OFF", "POWER_ON")], Context = MutationContext.All }] },
        ];
        var self = NodeId.FromName("n-self");
        using var c = new TestCluster(modules, self: self);
        var own = c.AddNode("n-self", s_sync, ["/RunState=INIT"]);
        var child = c.AddNode("child", s_sync, ["/RunState=INIT"]);
        var anyone = c.AddNode("anyone", ["/PhysState=POWER_ON"], ["/PhysState=POWER_OFF"]);
        c.SetCfg(anyone, "/ParentId", NodeId.FromName("elsewhere").ToString());

        c.Run(TimeSpan.FromSeconds(10));

        Assert.Equal(own, self);
        Assert.Equal(["INITtoSYNC"], c.Dispatched(own));
        Assert.Empty(c.Dispatched(child));
        Assert.Equal(ReconcileStatus.Following, c.State(child).Status);
        Assert.Equal(["OFFtoON"], c.Dispatched(anyone));
    }

    [Fact]
    public void A_module_that_is_not_available_holds_its_steps_until_it_is() // item 19, in-process
    {
        using var c = new TestCluster(ModuleSets.Realistic());
        var pxe = c.Module("pxe");
        pxe.Host.SetAvailable(false);
        var id = c.AddNode("n1", s_sync, ["/PhysState=POWER_OFF"]);

        c.Run(TimeSpan.FromMinutes(5));
        Assert.Equal(["OFFtoON"], c.Dispatched(id));
        Assert.Equal(ReconcileStatus.Queued, c.State(id).Status);
        Assert.Equal("NONEtoWAIT", c.State(id).Step!.Mutation.Id);
        Assert.Equal(0, c.Engine.Counters.TimedOut); // a held step does not time out

        pxe.Host.SetAvailable(true);
        c.Run(TimeSpan.FromMinutes(1));
        Assert.Equal(s_coldBoot[1..], c.Dispatched(id));
    }

    [Fact]
    public void A_request_carries_cfg_dsc_and_mutation_and_reaches_only_its_module() // item 20
    {
        using var c = new TestCluster(ModuleSets.Realistic());
        var id = c.AddNode("n1", ["/RunState=SYNC", "/Nodename=n1"], ["/PhysState=POWER_OFF"]);
        c.RunIdle();

        var request = Assert.Single(c.Module("power").Requests);
        Assert.Empty(c.Module("pxe").Requests);
        Assert.Empty(c.Module("runstate").Requests);
        Assert.Equal(id, request.Node);
        Assert.Equal("OFFtoON", request.MutationId);
        Assert.Equal("power", request.Mutation.Module);
        Assert.Equal("n1", request.Cfg.Nodename);
        Assert.Equal("SYNC", request.Cfg.Get("/RunState").ToString());
        Assert.Equal("POWER_OFF", request.Dsc.Get("/PhysState").ToString());
        Assert.Equal(0, request.Attempt);
        Assert.False(request.Interrupted.IsCancellationRequested);
    }

    [Fact]
    public void A_multi_url_step_completes_only_when_every_url_is_confirmed() // item 21
    {
        using var c = new TestCluster(ModuleSets.Realistic());
        c.Module("pxe").Ignore.Add("WAITtoINIT");
        var id = c.AddNode("n1", s_sync, ["/PhysState=POWER_ON", "/Extensions/Pxe/State=WAIT"]);
        c.RunIdle();
        Assert.Equal("WAITtoINIT", c.State(id).Step!.Mutation.Id);

        c.SetDsc(id, ModuleSets.Pxe, "INIT");
        c.Run(TimeSpan.FromSeconds(5));
        Assert.Equal("WAITtoINIT", c.State(id).Step!.Mutation.Id);
        Assert.Equal(ReconcileStatus.Running, c.State(id).Status);

        c.SetDsc(id, ModuleSets.Run, "INIT");
        c.RunIdle();
        Assert.Equal("INITtoCOMP", c.State(id).Step!.Mutation.Id);
        Assert.Empty(c.Module("pxe").Interrupts);
    }

    [Fact]
    public void A_contradicting_discovery_replans_replacing_the_chain_and_interrupting_the_module() // item 22
    {
        using var c = new TestCluster(ModuleSets.Realistic());
        c.Module("pxe").Ignore.Add("NONEtoWAIT");
        var id = c.AddNode("n1", s_sync, ["/PhysState=POWER_OFF"]);
        c.Run(TimeSpan.FromSeconds(2));
        Assert.Equal("NONEtoWAIT", c.State(id).Step!.Mutation.Id);
        var abandoned = c.Module("pxe").Requests.Single();

        // The power module finds the node off again.
        c.SetDsc(id, ModuleSets.Phys, "POWER_OFF");
        c.RunIdle();

        Assert.True(abandoned.Interrupted.IsCancellationRequested);
        Assert.Contains(abandoned, c.Module("pxe").Interrupts);
        var s = c.State(id);
        Assert.Equal(s_coldBoot[1..], s.Plan!.Steps.Select(p => p.Mutation.Id)); // replaced, not appended
        Assert.Equal(0, s.CurrentStep);
        Assert.Equal(1, c.Engine.Counters.Replans);
        Assert.Equal(1, c.Engine.Counters.Interrupted);
    }

    [Fact]
    public void A_rediscovery_of_an_unchanged_value_does_not_complete_a_step() // item 23
    {
        using var c = new TestCluster(ModuleSets.Realistic());
        c.Module("power").Ignore.Add("OFFtoON");
        var id = c.AddNode("n1", s_sync, ["/PhysState=POWER_OFF"]);
        c.RunIdle();

        c.Module("power").Host.Discover(id, ModuleSets.Phys, "POWER_OFF");
        c.Run(TimeSpan.FromSeconds(5));

        Assert.Equal(ReconcileStatus.Running, c.State(id).Status);
        Assert.Equal("OFFtoON", c.State(id).Step!.Mutation.Id);
        Assert.Single(c.Module("power").Requests);
        Assert.Equal(0, c.Engine.Counters.Confirmed);
    }

    [Fact]
    public void A_cfg_change_mid_path_replans_and_interrupts_the_abandoned_step()
    {
        using var c = new TestCluster(ModuleSets.Realistic());
        c.Module("pxe").Ignore.Add("NONEtoWAIT");
        var id = c.AddNode("n1", s_sync, ["/PhysState=POWER_OFF"]);
        c.Run(TimeSpan.FromSeconds(2));
        var abandoned = c.Module("pxe").Requests.Single();

        c.Store.Update(StateView.Cfg, id, [new(c.Store.Schema.RunState, StateValue.None), new(c.Store.Schema.PhysState, StateValue.FromEnum(Kraken.Tree.State.Proto.PhysState.PowerOff))]);
        c.Run(TimeSpan.FromSeconds(5));

        Assert.True(abandoned.Interrupted.IsCancellationRequested);
        Assert.Equal(["OFFtoON", "NONEtoWAIT", "ONtoOFF"], c.Dispatched(id));
        Assert.Equal(ReconcileStatus.Complete, c.State(id).Status);
        Assert.Equal("POWER_OFF", c.Dsc(id, ModuleSets.Phys));
    }

    [Fact]
    public void A_cfg_change_whose_new_plan_starts_with_the_running_step_keeps_it_running()
    {
        using var c = new TestCluster(ModuleSets.Realistic());
        c.Module("power").Ignore.Add("OFFtoON");
        var id = c.AddNode("n1", s_sync, ["/PhysState=POWER_OFF"]);
        c.RunIdle();
        var running = c.Module("power").Requests.Single();

        c.SetCfg(id, "/PhysState", "POWER_ON"); // a new goal whose plan also starts with OFFtoON
        c.RunIdle();

        Assert.False(running.Interrupted.IsCancellationRequested);
        Assert.Single(c.Module("power").Requests);
        Assert.Equal("OFFtoON", c.State(id).Step!.Mutation.Id);
        Assert.Equal(1, c.Engine.Counters.Replans);
    }

    [Fact]
    public void Never_two_requests_in_flight_for_one_node()
    {
        using var c = new TestCluster(ModuleSets.Realistic());
        var ids = Enumerable.Range(0, 20).Select(i => c.AddNode("n" + i, s_sync, i % 2 == 0 ? ["/PhysState=POWER_OFF"] : [])).ToList();
        for (var round = 0; round < 6; round++)
        {
            c.Run(TimeSpan.FromMilliseconds(1500));
            foreach (var id in ids.Where((_, i) => i % 3 == round % 3))
            {
                // Flip goals and Dsc under the engine while steps are in flight.
                c.SetCfg(id, "/PhysState", round % 2 == 0 ? "POWER_OFF" : "POWER_ON");
                c.SetDsc(id, ModuleSets.Phys, round % 2 == 0 ? "POWER_ON" : "POWER_OFF");
            }
        }

        c.Run(TimeSpan.FromMinutes(5));

        Assert.All(c.Modules, m => Assert.True(m.MaxActivePerNode <= 1, $"{m.Name} had {m.MaxActivePerNode} requests in flight for one node"));
        Assert.True(c.Engine.Counters.Replans > 0);
        Assert.All(c.Modules, m => Assert.Equal(0, m.Active));
    }

    [Fact]
    public void Deleting_a_node_cancels_its_step_and_its_timer()
    {
        using var c = new TestCluster(ModuleSets.Realistic());
        c.Module("power").Ignore.Add("OFFtoON");
        var id = c.AddNode("n1", s_sync, ["/PhysState=POWER_OFF"]);
        c.RunIdle();
        var request = c.Module("power").Requests.Single();

        c.Store.Delete(id);
        c.Run(TimeSpan.FromMinutes(2));

        Assert.True(request.Interrupted.IsCancellationRequested);
        Assert.Null(c.Engine.GetState(id));
        Assert.Equal(0, c.Engine.Counters.TimedOut);
        Assert.Equal((0, 0), c.Engine.ModuleLoad()["power"]);
    }

    [Fact]
    public void Per_module_dispatch_concurrency_is_bounded()
    {
        var options = new ReconcileOptions();
        options.ModuleConcurrency["power"] = 2;
        using var c = new TestCluster(ModuleSets.Realistic(), options);
        var ids = Enumerable.Range(0, 10).Select(i => c.AddNode("n" + i, ["/PhysState=POWER_ON"], ["/PhysState=POWER_OFF"])).ToList();
        c.RunIdle();

        Assert.Equal((2, 8), c.Engine.ModuleLoad()["power"]);
        Assert.Equal(8, ids.Count(id => c.State(id).Status == ReconcileStatus.Queued));

        c.Run(TimeSpan.FromMinutes(1));

        Assert.Equal(2, c.Module("power").MaxActive);
        Assert.All(ids, id => Assert.Equal(ReconcileStatus.Complete, c.State(id).Status));
        // Queued in creation order, dispatched in pairs as slots free up.
        Assert.Equal(ids.Select(id => "OFFtoON@" + id), c.Log);
    }

    [Fact]
    public void A_bulk_change_is_processed_in_one_pass_with_one_search_per_distinct_pair()
    {
        using var c = new TestCluster(ModuleSets.Realistic());
        var ids = Enumerable.Range(0, 2000).Select(i => c.AddNode("n" + i, [], [i % 2 == 0 ? "/PhysState=POWER_OFF" : "/PhysState=POWER_ON"])).ToList();
        c.RunIdle();
        var before = c.Engine.Counters;

        c.Store.Batch(s =>
        {
            foreach (var id in ids)
            {
                s.Set(StateView.Cfg, id, s.Schema.PhysState, StateValue.FromEnum(Kraken.Tree.State.Proto.PhysState.PowerOn));
                s.Set(StateView.Cfg, id, s.Schema.RunState, StateValue.FromEnum(Kraken.Tree.State.Proto.RunState.Sync));
            }
        });
        var passes = c.Work.RunPending();

        var after = c.Engine.Counters;
        Assert.Equal(1, passes);
        Assert.Equal(2, after.PlansComputed - before.PlansComputed);
        Assert.Equal(1998, after.PlanCacheHits - before.PlanCacheHits);
        Assert.Equal(2000, after.Dispatched - before.Dispatched);
        Assert.Equal(1000, c.Module("power").Requests.Count);
        Assert.Equal(1000, c.Module("pxe").Requests.Count);
    }
}
