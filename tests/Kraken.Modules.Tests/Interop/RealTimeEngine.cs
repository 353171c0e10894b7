// A reconcile engine with the power module on a serial executor and the system clock, for tests with real devices.
using Kraken.Modules.Power;
using Kraken.Modules.Tests.Power;
using Kraken.Net.Execution;
using Kraken.Tree.Reconcile;
using Kraken.Tree.State;

namespace Kraken.Modules.Tests.Interop;

internal sealed class RealTimeEngine : IAsyncDisposable
{
    public RealTimeEngine(IPowerDriver[] drivers, PowerOptions power)
    {
        Module = new PowerModule(drivers, Executor, TimeProvider.System, power);
        Engine = new ReconcileEngine(Self, Store, [Module], Executor, TimeProvider.System, new ReconcileOptions { MaxAttempts = 1 });
        Engine.Start();
    }

    public SerialExecutor Executor { get; } = new();

    public StateStore Store { get; } = new(StateSchema.Default);

    public NodeId Self { get; } = NodeId.FromName("parent");

    public PowerModule Module { get; }

    public ReconcileEngine Engine { get; }

    public NodeId AddNode(string name, (string Field, string Value)[] power, string? physCfg = null, string? physDsc = null) =>
        PowerNodes.Create(Store, Self, name, power, physCfg, physDsc);

    public string Phys(NodeId id) => PowerNodes.Phys(Store, id);

    /// <summary>Waits (real time, up to 20 s) until the node's Dsc PhysState is <paramref name="value"/>.</summary>
    public Task<bool> ReachesAsync(NodeId id, string value) => PowerNodes.Eventually(() => Phys(id) == value, TimeSpan.FromSeconds(20));

    public void SetCfg(NodeId id, string value) => Store.Set(StateView.Cfg, id, "/PhysState", value);

    public async ValueTask DisposeAsync()
    {
        Module.Dispose();
        Engine.Dispose();
        await Executor.DisposeAsync();
    }
}
