// The reconcile modules every simulated parent runs for its children: the daemon's module set over simulated services.
using Kraken.Modules;
using Kraken.Modules.Power;
using Kraken.Modules.Pxe;
using Kraken.Tree.Reconcile;
using Kraken.Tree.State;

namespace Kraken.Sim.Cluster;

/// <summary>
/// A simulated parent runs the same <see cref="ModuleSet"/> as a daemon configured with power and PXE: the real
/// <see cref="PowerModule"/> over the simulated BMCs, the real <see cref="PxeModule"/> fed by what the parent's
/// real DHCP server and its simulated boot-file servers see, and the real join step, confirmed by the parent's
/// sync engine when the child's daemon joins. Only the services under the modules are simulated.
/// </summary>
internal static class SimModules
{
    public const string PxeState = PxeModule.StateUrl;

    /// <summary>
    /// The set's options: the daemon's defaults, with the run's power concurrency and polling (which only change how
    /// the module schedules calls, not its declaration: the mutation graph is the daemon's).
    /// </summary>
    public static ModuleSetOptions Options(SimSettings settings) => ModuleSetOptions.Realistic with
    {
        Power = new PowerOptions { DefaultDriverConcurrency = settings.PowerConcurrency, PollInterval = settings.PowerPoll },
    };

    /// <summary>The modules of parent <paramref name="parent"/>, over its own store.</summary>
    public static ParentModules Create(SimCluster cluster, int parent, StateStore store)
    {
        var nodes = new BootNodeDirectory(store, cluster.IsChildOf(parent));
        var modules = ModuleSet.Create(
            Options(cluster.Settings),
            power => new PowerModule([cluster.Power], cluster.Executor, cluster.Time, power),
            pxe => new PxeModule(nodes, pxe));
        return new ParentModules(modules, nodes);
    }

    /// <summary>A parent's modules and what they hold open.</summary>
    internal sealed class ParentModules(IReadOnlyList<IReconcileModule> modules, BootNodeDirectory nodes) : IDisposable
    {
        public IReadOnlyList<IReconcileModule> Modules { get; } = modules;

        public PxeModule Pxe { get; } = modules.OfType<PxeModule>().Single();

        public void Dispose()
        {
            foreach (var m in Modules.OfType<IDisposable>())
            {
                m.Dispose();
            }

            nodes.Dispose();
        }
    }
}
