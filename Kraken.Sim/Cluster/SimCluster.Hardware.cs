// Simulated hardware: what PXE and boot requests do and when, and what a power loss does to a node.
using Kraken.Modules.Power;
using Kraken.Tree.Reconcile;

namespace Kraken.Sim.Cluster;

internal sealed partial class SimCluster
{
    /// <summary>
    /// A machine went off or was reset by its power module: its daemon dies, and its parent's PXE view resets so
    /// that the next power-on boots it from scratch.
    /// </summary>
    internal void OnPowerLoss(int node)
    {
        Hardware.PowerLosses++;
        StopDaemon(node);
        if (Topology.Parent[node] is var parent and >= 0 && BootModuleOf(parent) is { } boot)
        {
            var id = Topology.Ids[node];
            boot.Discover(id, _schema.Resolve(SimModules.PxeState), _pxeNone);
            boot.Discover(id, _schema.RunState, _runUnknown);
        }
    }

    /// <summary>Counts of hardware events.</summary>
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
            case "NONEtoWAIT":
                // With the real DHCP exchange the PXE time is the firmware's until its first DISCOVER; the ACK ends
                // the phase. The boot file's transfer (TFTP) stays part of the kernel time.
                Wheel.Schedule(Settings.Pxe.Sample(Random), new SimEvent(RealDhcp ? SimEventKind.DhcpStart : SimEventKind.PxeDone, node, step));
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

        if (e.Kind >= SimEventKind.DhcpStart)
        {
            OnDhcpEvent(e);
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
            case SimEventKind.PxeDone:
                host.Discover(id, _schema.Resolve(SimModules.PxeState), _pxeWait);
                break;
            case SimEventKind.KernelDone:
                Hardware.Boots++;
                if (Power.GetState(id) == PowerStatus.On && _daemons[e.Node] is null)
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

/// <summary>Hardware events of the run.</summary>
internal sealed class HardwareCounters
{
    /// <summary>Kernels that came up (daemons started by a boot).</summary>
    public long Boots { get; set; }

    /// <summary>Machines switched off or reset by their parent's power module.</summary>
    public long PowerLosses { get; set; }
}
