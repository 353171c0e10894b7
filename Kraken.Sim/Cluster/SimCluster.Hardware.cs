// Simulated hardware: what power, PXE and boot requests do, and when.
using Kraken.Tree.Reconcile;

namespace Kraken.Sim.Cluster;

internal sealed partial class SimCluster
{
    /// <summary>Counts of hardware steps requested by the parents' reconcile engines.</summary>
    public HardwareCounters Hardware { get; } = new();

    /// <summary>A step dispatched to a simulated module: draw its delay and put its outcome on the wheel.</summary>
    internal void OnModuleRequest(SimModules.HardwareModule module, MutationRequest request)
    {
        var node = IndexOf(request.Node);
        if (node < 0)
        {
            return;
        }

        var step = new PendingStep(module, request);
        switch (request.MutationId)
        {
            case "UKtoOFF":
                Wheel.Schedule(Settings.PowerQuery.Sample(Random), new SimEvent(SimEventKind.PowerQueried, node, step));
                break;
            case "OFFtoON":
                Hardware.PowerOn++;
                if (Settings.PowerFailure > 0 && Random.NextDouble() < Settings.PowerFailure)
                {
                    // The BMC accepted the request and did nothing: the step times out and fails to PHYS_HANG.
                    Hardware.PowerFailures++;
                    return;
                }

                Wheel.Schedule(Settings.PowerOn.Sample(Random), new SimEvent(SimEventKind.PoweredOn, node, step));
                break;
            case "ONtoOFF" or "HANGtoOFF":
                Hardware.PowerOff++;
                Wheel.Schedule(Settings.PowerOff.Sample(Random), new SimEvent(SimEventKind.PoweredOff, node, step));
                break;
            case "NONEtoWAIT":
                Wheel.Schedule(Settings.Pxe.Sample(Random), new SimEvent(SimEventKind.PxeDone, node, step));
                break;
            case "WAITtoINIT":
                Wheel.Schedule(Settings.Kernel.Sample(Random), new SimEvent(SimEventKind.KernelDone, node, step));
                break;
            default:
                // INITtoSYNC: nothing to do; the parent's sync engine confirms it when the child joins.
                break;
        }
    }

    private void OnEvent(SimEvent e)
    {
        if (e.Kind == SimEventKind.Scenario)
        {
            ((Action)e.Request!)();
            return;
        }

        var step = (PendingStep)e.Request!;
        if (step.Request.Interrupted.IsCancellationRequested)
        {
            return;
        }

        var host = step.Module.Host!;
        var id = Topology.Ids[e.Node];
        switch (e.Kind)
        {
            case SimEventKind.PowerQueried:
                host.Discover(id, _schema.PhysState, _poweredOn[e.Node] ? _powerOn : _powerOff);
                break;
            case SimEventKind.PoweredOn:
                _poweredOn[e.Node] = true;
                host.Discover(id, _schema.PhysState, _powerOn);
                break;
            case SimEventKind.PoweredOff:
                _poweredOn[e.Node] = false;
                StopDaemon(e.Node);
                host.Discover(id, _schema.PhysState, _powerOff);
                if (BootModuleOf(step.Module.Parent) is { } boot)
                {
                    // A machine that went down boots from scratch next time.
                    boot.Discover(id, _schema.Resolve(SimModules.PxeState), _pxeNone);
                    boot.Discover(id, _schema.RunState, _runUnknown);
                }

                break;
            case SimEventKind.PxeDone:
                host.Discover(id, _schema.Resolve(SimModules.PxeState), _pxeWait);
                break;
            case SimEventKind.KernelDone:
                Hardware.Boots++;
                if (_poweredOn[e.Node] && _daemons[e.Node] is null)
                {
                    StartDaemon(e.Node);
                }

                host.Discover(id, _schema.Resolve(SimModules.PxeState), _pxeInit);
                host.Discover(id, _schema.RunState, _runInit);
                break;
        }
    }

    private IReconcileHost? BootModuleOf(int parent) => _bootHosts.GetValueOrDefault(parent);

    private readonly Dictionary<int, IReconcileHost> _bootHosts = [];

    internal void RegisterBootHost(int parent, IReconcileHost host) => _bootHosts[parent] = host;

    /// <summary>Schedules scenario work at <paramref name="at"/> of virtual time (or at once if that has passed).</summary>
    public void At(TimeSpan at, Action action) =>
        Wheel.Schedule(at - Time.Elapsed, new SimEvent(SimEventKind.Scenario, 0, action));

    private sealed record PendingStep(SimModules.HardwareModule Module, MutationRequest Request);
}

/// <summary>Hardware steps the simulated drivers were asked for.</summary>
internal sealed class HardwareCounters
{
    public long PowerOn { get; set; }

    public long PowerOff { get; set; }

    public long PowerFailures { get; set; }

    public long Boots { get; set; }
}
