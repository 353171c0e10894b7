// Simulated hardware: what a machine does when its power comes and goes, from firmware to a running daemon.
using Kraken.Modules.Power;
using Kraken.Modules.Pxe;
using Kraken.Net.Execution;
using Kraken.Net.Packets;

namespace Kraken.Sim.Cluster;

internal sealed partial class SimCluster
{
    /// <summary>The files a booting node fetches from its parent (the PXE module's default boot files).</summary>
    private static readonly string[] s_bootFiles = ["vmlinuz", "initrd.img"];

    // Per node: the boot it is on. Power on and power loss start a new one, so events of an earlier boot are dropped.
    private int[]? _boot;

    // Per parent: its PXE module while its daemon runs; what its DHCP, TFTP and HTTP services see goes there.
    private PxeModule?[]? _pxe;

    /// <summary>Counts of hardware events.</summary>
    public HardwareCounters Hardware { get; } = new();

    /// <summary>A BMC switched a machine: its host stops when power goes, its firmware starts when power comes.</summary>
    private void OnPowerApplied(SimPowerTransition t)
    {
        var node = IndexOf(t.Node);
        if (node <= 0 || !(t.PowerLost || t.PoweredOn))
        {
            return;
        }

        Executor.Post(() =>
        {
            if (t.PowerLost)
            {
                OnPowerLoss(node);
            }

            if (t.PoweredOn)
            {
                OnPowerOn(node);
            }
        });
    }

    /// <summary>The machine went off or was reset: its daemon dies; whatever its boot had scheduled is void.</summary>
    private void OnPowerLoss(int node)
    {
        Hardware.PowerLosses++;
        NextBoot(node);
        StopDaemon(node);
    }

    /// <summary>The machine came on: its firmware runs (<see cref="SimSettings.Pxe"/>), then asks for an address.</summary>
    private void OnPowerOn(int node)
    {
        var boot = NextBoot(node);
        Wheel.Schedule(Settings.Pxe.Sample(Random), new SimEvent(SimEventKind.FirmwareDone, node, null, boot));
    }

    private int NextBoot(int node) => ++(_boot ??= new int[Topology.Tier.Length])[node];

    private bool IsCurrentBoot(int node, int boot) => _boot is not null && _boot[node] == boot;

    /// <summary>The PXE module of <paramref name="node"/>'s parent, if that daemon runs.</summary>
    private PxeModule? ParentPxe(int node) => Topology.Parent[node] is var parent and >= 0 ? _pxe?[parent] : null;

    /// <summary>The node has its address (<paramref name="boot"/>): it fetches kernel and initrd from its parent.</summary>
    private void Leased(int node, int boot) =>
        Wheel.Schedule(Settings.Fetch.Sample(Random), new SimEvent(SimEventKind.FetchDone, node, null, boot));

    private void OnEvent(SimEvent e)
    {
        switch (e.Kind)
        {
            case SimEventKind.Scenario:
                ((Action)e.Payload!)();
                return;
            case SimEventKind.DhcpToServer or SimEventKind.DhcpToClient or SimEventKind.DhcpTimeout:
                OnDhcpEvent(e);
                return;
        }

        if (!IsCurrentBoot(e.Node, e.Boot))
        {
            return;   // the machine lost power (or was restarted) since this was scheduled
        }

        var id = Topology.Ids[e.Node];
        switch (e.Kind)
        {
            case SimEventKind.FirmwareDone when RealDhcp:
                StartDhcpClient(e.Node, e.Boot);
                break;
            case SimEventKind.FirmwareDone:
                // DHCP as part of the firmware delay: the parent's PXE module sees the ACK the server would have sent.
                if (ParentPxe(e.Node) is { } pxe)
                {
                    Dhcp.Leases++;
                    pxe.ObserveDhcp(new MacAddress(MacOf(e.Node)).ToPhysicalAddress(), id, acked: true, bootClient: true);
                    Leased(e.Node, e.Boot);
                }

                break;
            case SimEventKind.FetchDone:
                // Kernel and initrd delivered in full by the parent's boot servers; without them the boot stalls here
                // and the parent's engine times the step out.
                if (ParentPxe(e.Node) is { } server)
                {
                    var address = Ipv4.ToAddress(AddressOf(e.Node));
                    foreach (var file in s_bootFiles)
                    {
                        server.ObserveFetch(id, address, file, completed: true);
                    }

                    Wheel.Schedule(Settings.Kernel.Sample(Random), new SimEvent(SimEventKind.KernelDone, e.Node, null, e.Boot));
                }

                break;
            case SimEventKind.KernelDone:
                Hardware.Boots++;
                if (Power.GetState(id) == PowerStatus.On && _daemons[e.Node] is null)
                {
                    StartDaemon(e.Node);
                }

                break;
        }
    }

    /// <summary>Schedules scenario work at <paramref name="at"/> of virtual time (or at once if that has passed).</summary>
    public void At(TimeSpan at, Action action) =>
        Wheel.Schedule(at - Time.Elapsed, new SimEvent(SimEventKind.Scenario, 0, action));
}

/// <summary>Hardware events of the run.</summary>
internal sealed class HardwareCounters
{
    /// <summary>Kernels that came up (daemons started by a boot).</summary>
    public long Boots { get; set; }

    /// <summary>Machines switched off or reset by their parent's power module.</summary>
    public long PowerLosses { get; set; }
}
