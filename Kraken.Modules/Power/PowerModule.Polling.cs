// Periodic status polling: every node this daemon powers is asked for its state, and the answer is a discovery.
using Kraken.Modules.Power.Internal;
using Kraken.Tree.State;
using Kraken.Tree.State.Proto;

namespace Kraken.Modules.Power;

public sealed partial class PowerModule
{
    /// <summary>
    /// Queues a status call for every node this daemon powers that has power settings, no call in flight and
    /// is not hung or broken (only a mutation takes a node out of PHYS_HANG: a BMC that says "on" for a hung
    /// node must not make the engine believe it is running). Nodes are taken in id order, so the simulator's
    /// runs stay reproducible. Runs on the executor.
    /// </summary>
    internal int Poll()
    {
        if (_host is null || _disposed)
        {
            return 0;
        }

        var cfgs = _host.Store.Snapshot(StateView.Cfg);
        Array.Sort(cfgs, static (a, b) => a.Id.CompareTo(b.Id));
        var queued = 0;
        foreach (var cfg in cfgs)
        {
            if (_active.ContainsKey(cfg.Id) || !_parentPolicy!.IsResponsibleParent(cfg) || IsHung(cfg.Id))
            {
                continue;
            }

            var target = PowerTarget.FromRecord(cfg);
            if (target is null || !_drivers.ContainsKey(target.Driver))
            {
                continue;
            }

            Submit(new PowerOperation(target, PowerAction.Status, OperationOwner.Poll, null, CancellationToken.None)
            {
                CallTimeout = _options.CallTimeout,
                Retries = 0,
            });
            queued++;
        }

        return queued;
    }

    private void FinishPoll(PowerOperation op)
    {
        // Something else (a mutation, a bulk run) started on the node meanwhile: its answer is the newer one.
        if (op.Error is not null || _active.ContainsKey(op.Target.Node) || IsHung(op.Target.Node))
        {
            return;
        }

        TryDiscover(op.Target.Node, op.Status);
    }

    private bool IsHung(NodeId node)
    {
        var dsc = _host!.Store.Get(StateView.Dsc, node);
        return dsc?.PhysState is PhysState.PhysHang or PhysState.PhysError;
    }
}
