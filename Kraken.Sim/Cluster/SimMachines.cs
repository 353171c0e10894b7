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

        if (call.IsCompletedSuccessfully)
        {
            return new(Lost(target, call.Result));
        }

        // A continuation that runs where the call completes (on the virtual clock), never on the thread pool: an
        // await would be posted to the pool whenever a synchronization context is current (as under a test
        // runner), and the run would stop being reproducible.
        return new(call.AsTask().ContinueWith(
            static (t, s) =>
            {
                var (machines, target) = ((SimMachines, PowerTarget))s!;
                return machines.Lost(target, t.GetAwaiter().GetResult());
            },
            (this, target),
            CancellationToken.None,
            TaskContinuationOptions.ExecuteSynchronously,
            TaskScheduler.Default));
    }

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
