// Path finding: KRAKEN-REFERENCE.md section 10 items 13-17 and the section 2.3 table, corrected where the original is wrong.
using Kraken.Tree.Reconcile;
using Kraken.Tree.State;

namespace Kraken.Tree.Tests.Reconcile;

public class PlannerTests
{
    private static readonly StateSchema s_schema = StateSchema.Default;
    private static readonly string[] s_vboxChild = ["/Platform=vbox", "/RunState=SYNC"];
    private static readonly string[] s_coldBoot = ["UKtoOFF", "OFFtoON", "NONEtoWAIT", "WAITtoINIT", "INITtoSYNC"];
    private static readonly string[] s_powerCycle = ["HANGtoOFF", "OFFtoON", "NONEtoWAIT", "WAITtoINIT", "INITtoSYNC"];

    private static Planner VboxPlanner() => new(MutationGraph.Build(s_schema, ModuleSets.Vbox()));

    private static NodeRecord Record(params string[] values)
    {
        var e = NodeRecord.Empty(NodeId.FromName("n1"), s_schema).Edit();
        foreach (var kv in values)
        {
            var eq = kv.IndexOf('=', StringComparison.Ordinal);
            e.Set(kv[..eq], kv[(eq + 1)..]);
        }

        return e.Build();
    }

    private static string[] Ids(MutationPlan plan) => [.. plan.Steps.Select(s => s.Mutation.Id)];

    [Fact]
    public void Cold_vbox_child_is_planned_through_the_whole_boot() // item 13
    {
        var plan = VboxPlanner().Plan(Record(s_vboxChild), Record());

        Assert.Equal(PlanStatus.Path, plan.Status);
        Assert.Equal(s_coldBoot, Ids(plan));
        Assert.Equal(5, plan.Cost);
        Assert.Equal("{}", plan.Steps[0].From);
        Assert.Equal("{/Extensions/Pxe/State=INIT, /PhysState=POWER_ON, /RunState=SYNC}", plan.Steps[^1].To);
    }

    [Theory] // item 14
    [InlineData(new[] { "/PhysState=POWER_OFF" }, new[] { "OFFtoON", "NONEtoWAIT", "WAITtoINIT", "INITtoSYNC" })]
    [InlineData(new[] { "/PhysState=POWER_ON", "/Extensions/Pxe/State=WAIT" }, new[] { "WAITtoINIT", "INITtoSYNC" })]
    [InlineData(new[] { "/PhysState=POWER_ON" }, new[] { "NONEtoWAIT", "WAITtoINIT", "INITtoSYNC" })]
    public void Partly_booted_nodes_plan_the_rest(string[] dsc, string[] expected)
    {
        var plan = VboxPlanner().Plan(Record(s_vboxChild), Record(dsc));

        Assert.Equal(expected, Ids(plan));
    }

    [Fact]
    public void A_node_at_its_goal_is_complete_not_path_not_found() // item 15, and the original's [bug] in 2.3
    {
        var plan = VboxPlanner().Plan(Record(s_vboxChild), Record("/PhysState=POWER_ON", "/RunState=SYNC", "/Extensions/Pxe/State=INIT"));

        Assert.Equal(PlanStatus.Complete, plan.Status);
        Assert.Empty(plan.Steps);
        Assert.Null(plan.Reason);
    }

    [Fact]
    public void An_unset_cfg_value_does_not_constrain_the_goal() // item 16
    {
        var planner = VboxPlanner();
        var implied = planner.Plan(Record(s_vboxChild), Record("/PhysState=POWER_OFF"));
        var explicitOn = planner.Plan(Record("/Platform=vbox", "/RunState=SYNC", "/PhysState=POWER_ON"), Record("/PhysState=POWER_OFF"));

        Assert.Equal(Ids(explicitOn), Ids(implied));
        Assert.Contains("OFFtoON", Ids(implied));
        Assert.Equal("{/RunState=SYNC}", implied.Goal);
    }

    [Fact]
    public void A_platform_no_module_supports_gets_a_reason_naming_url_and_value() // item 17
    {
        var planner = VboxPlanner();

        var sync = planner.Plan(Record("/Platform=ipmi", "/RunState=SYNC"), Record());
        Assert.Equal(PlanStatus.Unreachable, sync.Status);
        Assert.Same(s_schema.RunState, sync.UnreachableUrl);
        Assert.Equal("SYNC", sync.UnreachableValue.ToString());
        Assert.Contains("/RunState = SYNC is unreachable", sync.Reason, StringComparison.Ordinal);
        Assert.Contains("INITtoSYNC", sync.Reason, StringComparison.Ordinal);

        var on = planner.Plan(Record("/Platform=ipmi", "/PhysState=POWER_ON"), Record("/PhysState=POWER_OFF"));
        Assert.Equal(PlanStatus.Unreachable, on.Status);
        Assert.Equal("/PhysState = POWER_ON is unreachable from {/PhysState=POWER_OFF}: OFFtoON (vboxmanage) requires /Platform = vbox, which does not hold for this node.", on.Reason);
    }

    [Fact]
    public void A_value_no_mutation_produces_is_unreachable_with_that_reason()
    {
        var plan = VboxPlanner().Plan(Record("/Platform=vbox", "/RunState=ERROR"), Record());

        Assert.Equal(PlanStatus.Unreachable, plan.Status);
        Assert.Equal("/RunState = ERROR is unreachable from {}: no registered mutation changes /RunState to ERROR.", plan.Reason);
    }

    [Fact]
    public void A_hung_node_plans_a_power_cycle_not_a_detour_through_unknown()
    {
        // Stale RunState and PXE state from before the hang cannot be known while the node is not powered on.
        var plan = VboxPlanner().Plan(Record(s_vboxChild), Record("/PhysState=PHYS_HANG", "/RunState=INIT", "/Extensions/Pxe/State=INIT"));

        Assert.Equal(s_powerCycle, Ids(plan));
        Assert.Equal("{/PhysState=PHYS_HANG}", plan.Start);
    }

    [Fact]
    public void A_dead_child_is_power_cycled_from_where_it_is()
    {
        // RunState ERROR on a powered node is no vertex of the graph; the planner expands it directly.
        var plan = VboxPlanner().Plan(Record(s_vboxChild), Record("/PhysState=POWER_ON", "/RunState=ERROR", "/Extensions/Pxe/State=INIT"));

        Assert.Equal(["ONtoOFF", "OFFtoON", "NONEtoWAIT", "WAITtoINIT", "INITtoSYNC"], Ids(plan));
    }

    [Fact]
    public void Powering_off_a_synced_node_is_one_step()
    {
        var plan = VboxPlanner().Plan(Record("/Platform=vbox", "/PhysState=POWER_OFF"), Record("/PhysState=POWER_ON", "/RunState=SYNC", "/Extensions/Pxe/State=INIT"));

        Assert.Equal(["ONtoOFF"], Ids(plan));
    }

    [Theory]
    [InlineData(1, 3, "WakeOnLan")]
    [InlineData(3, 1, "OFFtoON")]
    [InlineData(2, 2, "OFFtoON")] // equal cost: the first mutation id in ordinal order
    public void The_cheapest_path_wins_and_ties_break_by_mutation_id(int wolCost, int bmcCost, string expected)
    {
        ModuleDeclaration[] modules =
        [
            new("bmc") { Mutations = [new("OFFtoON") { Mutates = [new("/PhysState", "POWER_OFF", "POWER_ON")], Cost = bmcCost }] },
            new("wol") { Mutations = [new("WakeOnLan") { Mutates = [new("/PhysState", "POWER_OFF", "POWER_ON")], Cost = wolCost }] },
        ];
        var planner = new Planner(MutationGraph.Build(s_schema, modules));

        var plan = planner.Plan(Record("/PhysState=POWER_ON"), Record("/PhysState=POWER_OFF"));

        Assert.Equal([expected], Ids(plan));
        Assert.Equal(Math.Min(wolCost, bmcCost), plan.Cost);
    }

    [Fact]
    public void A_cheaper_longer_path_beats_a_dearer_shorter_one()
    {
        ModuleDeclaration[] modules =
        [
            new("m")
            {
                Mutations =
                [
                    new("Direct") { Mutates = [new("/PhysState", "POWER_OFF", "POWER_ON")], Cost = 10 },
                    new("Via1") { Mutates = [new("/PhysState", "POWER_OFF", "POWER_CYCLE")], Cost = 2 },
                    new("Via2") { Mutates = [new("/PhysState", "POWER_CYCLE", "POWER_ON")], Cost = 3 },
                ],
            },
        ];
        var plan = new Planner(MutationGraph.Build(s_schema, modules)).Plan(Record("/PhysState=POWER_ON"), Record("/PhysState=POWER_OFF"));

        Assert.Equal(["Via1", "Via2"], Ids(plan));
        Assert.Equal(5, plan.Cost);
    }

    [Fact]
    public void Nodes_sharing_start_goal_and_constraints_share_one_search()
    {
        var planner = VboxPlanner();
        var plans = new HashSet<MutationPlan>(ReferenceEqualityComparer.Instance);
        for (var i = 0; i < 1000; i++)
        {
            var id = NodeId.FromName("node" + i);
            var c = NodeRecord.Empty(id, s_schema).With("/Platform", "vbox").With("/RunState", "SYNC").With("/Nodename", "node" + i);
            var d = NodeRecord.Empty(id, s_schema).With("/PhysState", i % 2 == 0 ? "POWER_OFF" : "POWER_ON");
            plans.Add(planner.Plan(c, d));
        }

        Assert.Equal(2, planner.Searches);
        Assert.Equal(998, planner.CacheHits);
        Assert.Equal(2, plans.Count);
    }

    [Fact]
    public void Same_inputs_give_the_same_plans_whatever_the_declaration_order()
    {
        var dscs = new[]
        {
            Record(), Record("/PhysState=POWER_OFF"), Record("/PhysState=PHYS_HANG"), Record("/PhysState=POWER_ON", "/RunState=ERROR"),
            Record("/PhysState=POWER_ON", "/Extensions/Pxe/State=WAIT"),
        };
        var cfgs = new[] { Record(s_vboxChild), Record("/Platform=vbox", "/PhysState=POWER_OFF"), Record("/Platform=vbox", "/PhysState=POWER_ON") };
        string Describe(Planner p) => string.Join("|", cfgs.SelectMany(c => dscs.Select(d => p.Plan(c, d).ToString())));

        var reference = Describe(VboxPlanner());
        var random = new Random(11);
        for (var i = 0; i < 10; i++)
        {
            var shuffled = ModuleSets.Vbox().Select(m => m with { Mutations = [.. m.Mutations.OrderBy(_ => random.Next())] }).OrderBy(_ => random.Next());
            Assert.Equal(reference, Describe(new Planner(MutationGraph.Build(s_schema, shuffled))));
        }
    }

    [Fact]
    public void Values_no_mutation_changes_are_constraints_not_goals()
    {
        var planner = VboxPlanner();
        var atGoal = Record("/PhysState=POWER_ON", "/RunState=SYNC", "/Extensions/Pxe/State=INIT", "/Arch=aarch64");

        // A Cfg value of a URL no mutation changes is not planned towards.
        Assert.Equal(PlanStatus.Complete, planner.Plan(Record("/Platform=vbox", "/Arch=x86_64", "/RunState=SYNC"), atGoal).Status);

        // Where Cfg leaves a constraint URL unset, the node's Dsc value counts.
        var fromDsc = planner.Plan(Record("/PhysState=POWER_ON"), Record("/PhysState=POWER_OFF", "/Platform=vbox"));
        Assert.Equal(["OFFtoON"], Ids(fromDsc));
        Assert.Equal(PlanStatus.Unreachable, planner.Plan(Record("/PhysState=POWER_ON"), Record("/PhysState=POWER_OFF")).Status);

        // A mutated value that no mutation leads away from is respected: no plan pretends to fix it.
        var broken = planner.Plan(Record("/Platform=vbox", "/PhysState=POWER_ON"), Record("/PhysState=PHYS_ERROR"));
        Assert.Equal(PlanStatus.Unreachable, broken.Status);
        Assert.StartsWith("/PhysState = POWER_ON is unreachable from {/PhysState=PHYS_ERROR}", broken.Reason, StringComparison.Ordinal);
    }
}
