// The reconcile modules every simulated parent daemon runs for its children: power, PXE boot, join.
using Kraken.Modules.Power;
using Kraken.Tree.Reconcile;

namespace Kraken.Sim.Cluster;

/// <summary>
/// The modules of a simulated parent. Power is the real <see cref="PowerModule"/> over the simulated BMCs;
/// boot and join are simulated here as ordinary <see cref="IReconcileModule"/>s: the real
/// <see cref="ReconcileEngine"/> of each parent plans and dispatches their steps, and they answer through
/// discoveries, after delays drawn from the run's distributions on the shared <see cref="EventWheel"/>.
/// </summary>
internal static class SimModules
{
    public const string Phys = "/PhysState";
    public const string Run = "/RunState";
    public const string PxeState = "/Extensions/Pxe/State";

    private static readonly UrlValue s_hang = new(Phys, "PHYS_HANG");

    /// <summary>PXE: NONE -> WAIT (firmware, DHCP, boot files), WAIT -> INIT (kernel up, daemon started).</summary>
    public static ModuleDeclaration Boot { get; } = new("pxe")
    {
        Discoverables = [new(PxeState, ["NONE", "WAIT", "INIT"]), new(Run, ["UNKNOWN", "INIT"])],
        Mutations =
        [
            new("NONEtoWAIT") { Mutates = [new(PxeState, "NONE", "WAIT")], Requires = [new(Phys, "POWER_ON")], Context = MutationContext.Child, Timeout = TimeSpan.FromMinutes(2), FailTo = s_hang },
            new("WAITtoINIT") { Mutates = [new(PxeState, "WAIT", "INIT"), new(Run, "UNKNOWN", "INIT")], Requires = [new(Phys, "POWER_ON")], Context = MutationContext.Child, Timeout = TimeSpan.FromMinutes(3), FailTo = s_hang },
        ],
    };

    /// <summary>INIT -> SYNC is the child's join: the parent's sync engine writes SYNC when it admits the child.</summary>
    public static ModuleDeclaration Join { get; } = new("join")
    {
        Discoverables = [new(Run, ["SYNC", "ERROR"])],
        Mutations =
        [
            new("INITtoSYNC") { Mutates = [new(Run, "INIT", "SYNC")], Requires = [new(Phys, "POWER_ON"), new(PxeState, "INIT")], Context = MutationContext.Child, Timeout = TimeSpan.FromMinutes(2), FailTo = s_hang },
        ],
    };

    /// <summary>A parent's modules: the real power module over the simulated BMCs, and the simulated boot and join.</summary>
    public static IReconcileModule[] Create(SimCluster cluster, int parent) =>
    [
        new PowerModule([cluster.Machines], cluster.Executor, cluster.Time, new PowerOptions
        {
            DefaultDriverConcurrency = cluster.Settings.PowerConcurrency,
            PollInterval = cluster.Settings.PowerPoll,
        }),
        new HardwareModule(Boot, cluster, parent),
        new HardwareModule(Join, cluster, parent),
    ];

    /// <summary>One module of one parent: requests become events on the wheel; events become discoveries.</summary>
    internal sealed class HardwareModule(ModuleDeclaration declaration, SimCluster cluster, int parent) : IReconcileModule
    {
        public ModuleDeclaration Declaration { get; } = declaration;

        public IReconcileHost? Host { get; private set; }

        public int Parent { get; } = parent;

        public void Attach(IReconcileHost host)
        {
            Host = host;
            if (ReferenceEquals(Declaration, Boot))
            {
                cluster.RegisterBootHost(Parent, host);
            }
        }

        public void OnMutationRequest(MutationRequest request) => cluster.OnModuleRequest(this, request);
    }
}
