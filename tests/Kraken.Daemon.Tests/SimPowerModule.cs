// A daemon module for tests: simulated power control of child nodes, registered through the module seam.
using Kraken.Daemon.Hosting;
using Kraken.Daemon.Modules;
using Kraken.Tree.Reconcile;

namespace Kraken.Daemon.Tests;

/// <summary>
/// Declares POWER_OFF &lt;-&gt; POWER_ON for children and confirms each request at once by discovering its
/// target value, unless <c>Modules:SimPower:Stuck</c> is true (then requests are never confirmed).
/// </summary>
internal sealed class SimPowerModule : IDaemonModule
{
    public string Name => "SimPower";

    public bool Stuck { get; private set; }

    public IEnumerable<IReconcileModule> Create(DaemonModuleContext context)
    {
        var stuck = context.Configuration["Stuck"];
        if (stuck is not null && !bool.TryParse(stuck, out _))
        {
            throw new DaemonConfigException("Modules:SimPower:Stuck", $"'{stuck}' is not true or false");
        }

        Stuck = stuck is not null && bool.Parse(stuck);
        return [new Power(Stuck)];
    }

    private sealed class Power(bool stuck) : IReconcileModule
    {
        private IReconcileHost? _host;

        public ModuleDeclaration Declaration { get; } = new("simpower")
        {
            Discoverables = [new("/PhysState", ["POWER_OFF", "POWER_ON"])],
            Mutations =
            [
                new("UKtoOFF") { Mutates = [new("/PhysState", "PHYS_UNKNOWN", "POWER_OFF")], Context = MutationContext.Child, Timeout = TimeSpan.FromSeconds(30) },
                new("OFFtoON") { Mutates = [new("/PhysState", "POWER_OFF", "POWER_ON")], Context = MutationContext.Child, Timeout = TimeSpan.FromSeconds(30) },
                new("ONtoOFF") { Mutates = [new("/PhysState", "POWER_ON", "POWER_OFF")], Context = MutationContext.Child, Timeout = TimeSpan.FromSeconds(30) },
            ],
        };

        public void Attach(IReconcileHost host) => _host = host;

        public void OnMutationRequest(MutationRequest request)
        {
            if (!stuck)
            {
                // Modules only queue on the engine's executor; the "hardware" answers from elsewhere.
                var m = request.Mutation.Mutates[0];
                _ = Task.Run(() => _host!.Discover(request.Node, m.Url, m.To));
            }
        }
    }
}
