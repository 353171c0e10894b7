// A reconcile engine with the power module and the simulated driver on a virtual clock.
using Kraken.Modules.Power;
using Kraken.Net.Execution;
using Kraken.Tree.Reconcile;
using Kraken.Tree.State;

namespace Kraken.Modules.Tests.Power;

internal sealed class PowerCluster : IDisposable
{
    public PowerCluster(SimPowerOptions? sim = null, PowerOptions? power = null, ReconcileOptions? reconcile = null, Func<IPowerDriver, IPowerDriver>? wrap = null)
    {
        Work = new WorkQueue();
        Time = new VirtualTimeProvider(Work);
        Executor = new ManualExecutor(Work);
        Store = new StateStore(StateSchema.Default);
        Self = NodeId.FromName("parent");
        Sim = new SimPowerDriver(Time, sim);
        Driver = wrap?.Invoke(Sim) ?? Sim;
        Module = new PowerModule([Driver], Executor, Time, power);
        Engine = new ReconcileEngine(Self, Store, [Module], Executor, Time, reconcile);
        Engine.Start();
        Time.RunUntilIdle();
    }

    public WorkQueue Work { get; }

    public VirtualTimeProvider Time { get; }

    public ManualExecutor Executor { get; }

    public StateStore Store { get; }

    public NodeId Self { get; }

    public SimPowerDriver Sim { get; }

    public IPowerDriver Driver { get; }

    public PowerModule Module { get; }

    public ReconcileEngine Engine { get; }

    /// <summary>A child of this daemon with sim power settings; <paramref name="bmc"/> groups nodes behind one BMC address.</summary>
    public NodeId AddNode(string name, string? physCfg = null, string? physDsc = null, string? bmc = null, string driver = "sim")
    {
        var id = NodeId.FromName(name);
        var cfg = NodeRecord.Empty(id, Store.Schema).Edit();
        cfg.Set(Store.Schema.ParentId, StateValue.FromNodeId(Self));
        cfg.Set("/Nodename", name);
        cfg.Set("/Extensions/Power/Driver", driver);
        cfg.Set("/Extensions/Power/Address", bmc ?? "bmc-" + name);
        if (physCfg is not null)
        {
            cfg.Set("/PhysState", physCfg);
        }

        var dsc = NodeRecord.Empty(id, Store.Schema).Edit();
        if (physDsc is not null)
        {
            dsc.Set("/PhysState", physDsc);
        }

        Store.Create(cfg.Build(), dsc.Build());
        return id;
    }

    public string Phys(NodeId id) => Store.GetRequired(StateView.Dsc, id).Get(Store.Schema.PhysState).ToString();

    public bool RunUntil(Func<bool> condition, TimeSpan limit) => Time.RunUntil(condition, limit);

    public T Await<T>(Task<T> task, TimeSpan limit)
    {
        Assert.True(Time.RunUntil(() => task.IsCompleted, limit), $"not done within {limit} of virtual time");
        return task.GetAwaiter().GetResult();
    }

    public void Dispose()
    {
        Module.Dispose();
        Engine.Dispose();
    }
}

/// <summary>Wraps a driver and records the most calls in flight at once, overall and per BMC.</summary>
internal sealed class CountingDriver(IPowerDriver inner) : IPowerDriver
{
    private readonly Dictionary<string, int> _perBmc = new(StringComparer.Ordinal);
    private readonly Lock _lock = new();
    private int _inFlight;

    public string Name => inner.Name;

    public int PeakInFlight { get; private set; }

    public int PeakPerBmc { get; private set; }

    public int Calls { get; private set; }

    public ValueTask<PowerStatus> ExecuteAsync(PowerTarget target, PowerAction action, CancellationToken cancellationToken)
    {
        lock (_lock)
        {
            Calls++;
            _inFlight++;
            PeakInFlight = Math.Max(PeakInFlight, _inFlight);
            var n = _perBmc[target.BmcKey] = _perBmc.GetValueOrDefault(target.BmcKey) + 1;
            PeakPerBmc = Math.Max(PeakPerBmc, n);
        }

        // Continues synchronously (no await): on the virtual clock every step must happen on the clock's thread.
        var call = inner.ExecuteAsync(target, action, cancellationToken);
        if (call.IsCompleted)
        {
            Done(target);
            return call;
        }

        return new ValueTask<PowerStatus>(call.AsTask().ContinueWith(
            t =>
            {
                Done(target);
                return t;
            },
            CancellationToken.None,
            TaskContinuationOptions.ExecuteSynchronously,
            TaskScheduler.Default).Unwrap());
    }

    private void Done(PowerTarget target)
    {
        lock (_lock)
        {
            _inFlight--;
            _perBmc[target.BmcKey]--;
        }
    }
}
