// The simulated BMCs as the power modules see them, with what switching a machine off does to its daemon.
using Kraken.Modules.Power;
using Kraken.Net.Execution;

namespace Kraken.Sim.Cluster;

/// <summary>
/// Wraps the shared <see cref="SimPowerDriver"/>: a completed power-off or reset takes the node's running
/// daemon down (and resets its boot state at the parent), as it would on real hardware.
/// </summary>
internal sealed class SimMachines(SimCluster cluster, SimPowerDriver driver) : IPowerDriver
{
    public string Name => driver.Name;

    public ValueTask<PowerStatus> ExecuteAsync(PowerTarget target, PowerAction action, CancellationToken cancellationToken)
    {
        var call = driver.ExecuteAsync(target, action, cancellationToken);
        if (action is PowerAction.Status or PowerAction.On)
        {
            return call;
        }

        return call.IsCompletedSuccessfully ? new(Lost(target, call.Result)) : Await(target, call);
    }

    private async ValueTask<PowerStatus> Await(PowerTarget target, ValueTask<PowerStatus> call) => Lost(target, await call.ConfigureAwait(false));

    private PowerStatus Lost(PowerTarget target, PowerStatus status)
    {
        var node = cluster.IndexOf(target.Node);
        if (node > 0)
        {
            cluster.Executor.Post(() => cluster.OnPowerLoss(node));
        }

        return status;
    }
}
