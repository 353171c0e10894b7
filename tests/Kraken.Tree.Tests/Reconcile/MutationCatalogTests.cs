// Registration of module declarations: text resolves to typed URLs and values; bad declarations are start-up errors.
using Kraken.Tree.Reconcile;
using Kraken.Tree.State;

namespace Kraken.Tree.Tests.Reconcile;

public class MutationCatalogTests
{
    private static readonly StateSchema s_schema = StateSchema.Default;

    [Fact]
    public void Declarations_resolve_to_typed_urls_and_values()
    {
        var catalog = MutationCatalog.Create(s_schema, ModuleSets.Vbox());

        var wait = catalog.Find("WAITtoINIT")!;
        Assert.Equal("pxe", wait.Module);
        Assert.Equal(MutationContext.Child, wait.Context);
        Assert.Equal(TimeSpan.FromSeconds(90), wait.Timeout);
        // The original's legacy URL resolves to ours.
        Assert.Same(s_schema.Resolve(ModuleSets.Pxe), wait.Mutates[0].Url);
        Assert.Equal("WAIT", wait.Mutates[0].From.ToString());
        Assert.Equal("INIT", wait.Mutates[0].To.ToString());
        Assert.Same(s_schema.RunState, wait.Mutates[1].Url);
        Assert.Same(s_schema.PhysState, wait.FailToUrl);
        Assert.Equal("PHYS_HANG", wait.FailToValue.ToString());
        Assert.Equal(["/Extensions/Pxe/State", "/PhysState", "/RunState"], catalog.MutatorUrls.Select(u => u.Path));
        Assert.Equal(["/Platform"], catalog.ConstraintUrls.Select(u => u.Path));
        Assert.Equal(catalog.Mutations.Select(m => m.Id).Order(StringComparer.Ordinal), catalog.Mutations.Select(m => m.Id));
    }

    [Fact]
    public void A_mutation_on_an_unknown_url_is_a_start_up_error()
    {
        var ex = Assert.Throws<ModuleRegistrationException>(() => MutationCatalog.Create(s_schema,
        [
            new ModuleDeclaration("power") { Mutations = [new("OFFtoON") { Mutates = [new("/PowerState", "POWER_OFF", "POWER_ON")] }] },
        ]));

        var error = Assert.Single(ex.Errors);
        Assert.Contains("power", error, StringComparison.Ordinal);
        Assert.Contains("OFFtoON", error, StringComparison.Ordinal);
        Assert.Contains("/PowerState", error, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("POWER_OF", "POWER_ON", "POWER_OF")]
    [InlineData("POWER_OFF", "ON", "'ON'")]
    [InlineData("1", "POWER_ON", "'1'")]
    public void A_from_or_to_value_that_is_not_an_enum_name_is_a_start_up_error(string from, string to, string named)
    {
        var ex = Assert.Throws<ModuleRegistrationException>(() => MutationCatalog.Create(s_schema,
        [
            new ModuleDeclaration("power") { Mutations = [new("OFFtoON") { Mutates = [new("/PhysState", from, to)] }] },
        ]));

        var error = Assert.Single(ex.Errors);
        Assert.Contains(named, error, StringComparison.Ordinal);
        Assert.Contains("POWER_ON", error, StringComparison.Ordinal); // lists what is valid
    }

    [Fact]
    public void Two_modules_claiming_one_mutation_id_is_a_start_up_error()
    {
        var ex = Assert.Throws<ModuleRegistrationException>(() => MutationCatalog.Create(s_schema,
        [
            new ModuleDeclaration("ipmi") { Mutations = [new("OFFtoON") { Mutates = [new("/PhysState", "POWER_OFF", "POWER_ON")] }] },
            new ModuleDeclaration("redfish") { Mutations = [new("OFFtoON") { Mutates = [new("/PhysState", "POWER_OFF", "POWER_ON")] }] },
        ]));

        var error = Assert.Single(ex.Errors);
        Assert.Contains("'OFFtoON'", error, StringComparison.Ordinal);
        Assert.Contains("'ipmi'", error, StringComparison.Ordinal);
        Assert.Contains("'redfish'", error, StringComparison.Ordinal);
    }

    [Fact]
    public void Every_problem_is_reported_at_once()
    {
        var ex = Assert.Throws<ModuleRegistrationException>(() => MutationCatalog.Create(s_schema,
        [
            new ModuleDeclaration("a")
            {
                Discoverables = [new("/PhysState", ["POWER_SIDEWAYS"])],
                Mutations =
                [
                    new("x") { Mutates = [new("/Nodename", "a", "b")] },
                    new("y") { Mutates = [new("/PhysState", "POWER_ON", "POWER_ON")] },
                    new("z") { Mutates = [new("/PhysState", "POWER_OFF", "POWER_ON")], Requires = [new("/PhysState", "POWER_OFF")] },
                    new("w") { Mutates = [new("/RunState", "INIT", "SYNC")], Cost = 0, Timeout = TimeSpan.FromSeconds(-1) },
                    new("v") { },
                    new("u") { Mutates = [new("/RunState", "INIT", "SYNC")], FailTo = new("/PhysState", "BROKEN") },
                ],
            },
            new ModuleDeclaration("a"),
            new ModuleDeclaration("bad name"),
        ]));

        Assert.Contains(ex.Errors, e => e.Contains("POWER_SIDEWAYS", StringComparison.Ordinal));
        Assert.Contains(ex.Errors, e => e.Contains("'x'", StringComparison.Ordinal) && e.Contains("only enum-valued", StringComparison.Ordinal));
        Assert.Contains(ex.Errors, e => e.Contains("'y'", StringComparison.Ordinal) && e.Contains("must change", StringComparison.Ordinal));
        Assert.Contains(ex.Errors, e => e.Contains("'z'", StringComparison.Ordinal) && e.Contains("also mutated", StringComparison.Ordinal));
        Assert.Contains(ex.Errors, e => e.Contains("'w'", StringComparison.Ordinal) && e.Contains("cost 0", StringComparison.Ordinal));
        Assert.Contains(ex.Errors, e => e.Contains("'w'", StringComparison.Ordinal) && e.Contains("negative", StringComparison.Ordinal));
        Assert.Contains(ex.Errors, e => e.Contains("'v'", StringComparison.Ordinal) && e.Contains("mutates nothing", StringComparison.Ordinal));
        Assert.Contains(ex.Errors, e => e.Contains("'u'", StringComparison.Ordinal) && e.Contains("BROKEN", StringComparison.Ordinal));
        Assert.Contains(ex.Errors, e => e.Contains("Module 'a' is registered twice", StringComparison.Ordinal));
        Assert.Contains(ex.Errors, e => e.Contains("'bad name'", StringComparison.Ordinal));
        Assert.Equal(10, ex.Errors.Count);
    }

    [Fact]
    public void A_bad_module_set_does_not_create_an_engine()
    {
        var store = new StateStore(s_schema);
        var queue = new Kraken.Net.Execution.WorkQueue();
        var modules = new[] { new FakeModule(new ModuleDeclaration("p") { Mutations = [new("m") { Mutates = [new("/PhysState", "OFF", "ON")] }] }, TimeProvider.System, []) };

        Assert.Throws<ModuleRegistrationException>(() => new ReconcileEngine(NodeId.FromName("s"), store, modules, new Kraken.Net.Execution.ManualExecutor(queue), TimeProvider.System));
        Assert.Null(modules[0].Host); // never attached
    }

    [Fact]
    public void Invalid_options_name_the_setting()
    {
        var store = new StateStore(s_schema);
        var modules = ModuleSets.Realistic().Select(d => new FakeModule(d, TimeProvider.System, [])).ToArray();
        var options = new ReconcileOptions { MaxAttempts = 0 };

        var ex = Assert.Throws<ArgumentException>(() => new ReconcileEngine(NodeId.FromName("s"), store, modules, new Kraken.Net.Execution.ManualExecutor(), TimeProvider.System, options));
        Assert.Contains("MaxAttempts", ex.Message, StringComparison.Ordinal);

        var unknown = new ReconcileOptions();
        unknown.ModuleConcurrency["ipmi"] = 4;
        ex = Assert.Throws<ArgumentException>(() => new ReconcileEngine(NodeId.FromName("s"), store, modules, new Kraken.Net.Execution.ManualExecutor(), TimeProvider.System, unknown));
        Assert.Contains("ipmi", ex.Message, StringComparison.Ordinal);
    }
}
