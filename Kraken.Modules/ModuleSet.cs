// The module set a Kraken parent runs for its children (power, PXE boot, join), composed in one place for the
// daemon, the simulator, the benchmarks and the tests.
using Kraken.Modules.Join;
using Kraken.Modules.Power;
using Kraken.Modules.Pxe;
using Kraken.Tree.Reconcile;
using Kraken.Tree.State;
using Kraken.Tree.State.Proto;

namespace Kraken.Modules;

/// <summary>What the set holds: power control and PXE boot are optional, the join step is always there.</summary>
public sealed record ModuleSetOptions
{
    /// <summary>The power module's settings; null: no power control.</summary>
    public PowerOptions? Power { get; init; }

    /// <summary>The PXE module's settings; null: no network boot.</summary>
    public PxeModuleOptions? Pxe { get; init; }

    /// <summary>The join step's settings; <see cref="JoinModuleOptions.RequirePowerOn"/> follows the PXE module's.</summary>
    public JoinModuleOptions Join { get; init; } = new();

    /// <summary>The realistic set with every default: power, PXE and join, as a daemon configured with both runs it.</summary>
    public static ModuleSetOptions Realistic => new() { Power = new PowerOptions(), Pxe = new PxeModuleOptions() };
}

/// <summary>
/// Composes the modules a parent hands its reconcile engine. A daemon builds its power and PXE modules from its
/// configuration and completes them here (<see cref="Compose"/>); the simulator builds the same modules over
/// simulated drivers and services (<see cref="Create"/>); graph tools declare the set without running it
/// (<see cref="Declarations"/>). All three give the same mutation graph for the same options.
/// </summary>
public static class ModuleSet
{
    /// <summary>The declarations of the set, power then PXE then join.</summary>
    public static IReadOnlyList<ModuleDeclaration> Declarations(ModuleSetOptions options)
    {
        ArgumentNullException.ThrowIfNull(options);
        var list = new List<ModuleDeclaration>(3);
        if (options.Power is { } power)
        {
            list.Add(PowerModule.CreateDeclaration(power));
        }

        if (options.Pxe is { } pxe)
        {
            list.Add(PxeModule.CreateDeclaration(pxe));
        }

        list.Add(JoinModule.CreateDeclaration(JoinFor(options.Power is not null, options.Pxe, options.Join)));
        return list;
    }

    /// <summary>
    /// The state URLs the set's Child-context steps change: what a parent discovers of its children itself (power,
    /// PXE, join). The sync engine keeps the parent's view of them over what a child reports of itself
    /// (<c>SyncOptions.ParentView</c>).
    /// </summary>
    public static IReadOnlyList<string> ParentView(ModuleSetOptions options) =>
        [.. Declarations(options).SelectMany(d => d.Mutations).Where(m => m.Context == MutationContext.Child)
            .SelectMany(m => m.Mutates.Select(u => u.Url)).Distinct(StringComparer.Ordinal).Order(StringComparer.Ordinal)];

    /// <summary>The same for modules already built: the URLs their Child-context steps change.</summary>
    public static IReadOnlyList<string> ParentView(IEnumerable<IReconcileModule> modules) =>
        [.. (modules ?? throw new ArgumentNullException(nameof(modules))).SelectMany(m => m.Declaration.Mutations).Where(m => m.Context == MutationContext.Child)
            .SelectMany(m => m.Mutates.Select(u => u.Url)).Distinct(StringComparer.Ordinal).Order(StringComparer.Ordinal)];

    /// <summary>
    /// How long a parent's engine, once it runs (at start; a child's after its first join), leaves alone the children
    /// <see cref="MayBeAlive"/> picks: longer than a child takes to find its old parent dead (its dead interval,
    /// stretched up to four times while it has not measured its link) and join again, or to fail back to it (every
    /// 30 s). A restarted parent that knows nothing of its running children would otherwise boot them again.
    /// </summary>
    public static readonly TimeSpan RestartGrace = TimeSpan.FromMinutes(2);

    /// <summary>
    /// True for a node whose daemon may be running and about to join: its parent reads it powered on
    /// (Dsc <c>/PhysState = POWER_ON</c>) and has not learnt its RunState (unset or UNKNOWN), as after the parent restarted.
    /// </summary>
    public static bool MayBeAlive(NodeRecord cfg, NodeRecord dsc)
    {
        ArgumentNullException.ThrowIfNull(dsc);
        var schema = dsc.Schema;
        return dsc.Get(schema.PhysState) == StateValue.FromEnum(PhysState.PowerOn)
            && dsc.Get(schema.RunState) is var run && (!run.IsSet || run == StateValue.FromEnum(RunState.Unknown));
    }

    /// <summary>The mutation graph of the set.</summary>
    public static MutationGraph Graph(ModuleSetOptions options, StateSchema? schema = null) =>
        new(MutationCatalog.Create(schema ?? StateSchema.Default, Declarations(options)));

    /// <summary>
    /// Builds the whole set: <paramref name="power"/> and <paramref name="pxe"/> create the modules from their
    /// options (over real or simulated drivers and services) when the options ask for them.
    /// </summary>
    public static IReadOnlyList<IReconcileModule> Create(ModuleSetOptions options, Func<PowerOptions, PowerModule>? power, Func<PxeModuleOptions, PxeModule>? pxe)
    {
        ArgumentNullException.ThrowIfNull(options);
        var modules = new List<IReconcileModule>(3);
        if (options.Power is { } p)
        {
            modules.Add((power ?? throw new ArgumentException("The set has power control but no way to create the power module.", nameof(power)))(p));
        }

        if (options.Pxe is { } x)
        {
            modules.Add((pxe ?? throw new ArgumentException("The set has PXE boot but no way to create the PXE module.", nameof(pxe)))(x));
        }

        return Compose(modules, options.Join);
    }

    /// <summary>
    /// Completes a daemon's modules: adds the join step, configured to fit the power and PXE modules among
    /// <paramref name="modules"/> (see <see cref="JoinModuleOptions.AfterPxe"/> and
    /// <see cref="JoinModuleOptions.RequirePowerOn"/>), and puts the set's modules first, power, PXE, join, then any
    /// others in their order.
    /// </summary>
    public static IReadOnlyList<IReconcileModule> Compose(IEnumerable<IReconcileModule> modules, JoinModuleOptions? join = null)
    {
        ArgumentNullException.ThrowIfNull(modules);
        var list = modules.ToList();
        if (list.OfType<JoinModule>().Any())
        {
            throw new ArgumentException("The modules already hold a join module; the set adds its own.", nameof(modules));
        }

        var pxe = list.OfType<PxeModule>().FirstOrDefault();
        // Power control is whatever module changes /PhysState: the power module, or a site's own.
        var power = list.Any(m => m.Declaration.Mutations.Any(x => x.Mutates.Any(IsPhysState)));
        list.Add(new JoinModule(JoinFor(power, pxe?.Options, join ?? new JoinModuleOptions())));
        return [.. list.OrderBy(Rank)];
    }

    /// <summary>
    /// The join step that fits the rest of the set: after a PXE boot when the PXE module is there (requiring power
    /// as the PXE steps do), else from UNKNOWN for nodes that boot by themselves, requiring power when the set
    /// controls it.
    /// </summary>
    private static JoinModuleOptions JoinFor(bool power, PxeModuleOptions? pxe, JoinModuleOptions join) => pxe is null
        ? join with { AfterPxe = false, RequirePowerOn = power }
        : join with { AfterPxe = true, RequirePowerOn = pxe.RequirePowerOn };

    private static bool IsPhysState(MutatedUrl url) =>
        StateSchema.Default.TryResolve(url.Url, out var resolved, out _) && ReferenceEquals(resolved, StateSchema.Default.PhysState);

    private static int Rank(IReconcileModule module) => module switch
    {
        PowerModule => 0,
        PxeModule => 1,
        JoinModule => 2,
        _ => 3,
    };
}
