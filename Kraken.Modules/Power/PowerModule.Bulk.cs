// Bulk operations: one action on many nodes, bounded per driver and per BMC, ending in a summary.
using Kraken.Modules.Power.Internal;
using Kraken.Net.Execution;
using Kraken.Tree.State;

namespace Kraken.Modules.Power;

public sealed partial class PowerModule
{
    /// <summary>
    /// Runs <paramref name="action"/> on every node in <paramref name="nodes"/> (read from the store's Cfg) and
    /// completes with one result per node, in the given order. Calls share the module's per-driver and per-BMC
    /// limits with the engine's steps, time out after the call timeout and are retried on transient failures.
    /// A node that is unknown or has no power settings fails at once with a reason. What the run learns
    /// (POWER_ON / POWER_OFF) is written to Dsc unless <see cref="BulkPowerOptions.ReportDiscoveries"/> is false;
    /// a failed call changes nothing. Thread-safe; needs the module attached to an engine.
    /// </summary>
    public Task<BulkPowerSummary> RunBulkAsync(IEnumerable<NodeId> nodes, PowerAction action, BulkPowerOptions? options = null, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(nodes);
        var ids = nodes.ToArray();
        var run = new BulkRun(this, action, options ?? new BulkPowerOptions(), ids.Length, cancellationToken);
        _executor.Post(() =>
        {
            if (_host is null)
            {
                run.Fail(new InvalidOperationException("The power module is not attached to an engine; bulk runs by node id need its store."));
                return;
            }

            var targets = new PowerTarget?[ids.Length];
            var reasons = new string?[ids.Length];
            for (var i = 0; i < ids.Length; i++)
            {
                var cfg = _host.Store.Get(StateView.Cfg, ids[i]);
                targets[i] = cfg is null ? null : PowerTarget.FromRecord(cfg);
                reasons[i] = cfg is null ? $"no node {ids[i]}" : targets[i] is null ? $"node {cfg.Nodename ?? ids[i].ToString()} has no /Extensions/Power/Driver in its Cfg" : null;
            }

            StartBulk(run, ids, targets, reasons);
        });
        return run.Task;
    }

    /// <summary>
    /// Runs <paramref name="action"/> on explicit targets (nodes need not be in the store; discoveries are
    /// written only for nodes that are). Otherwise as <see cref="RunBulkAsync(IEnumerable{NodeId}, PowerAction, BulkPowerOptions?, CancellationToken)"/>.
    /// </summary>
    public Task<BulkPowerSummary> RunBulkAsync(IEnumerable<PowerTarget> targets, PowerAction action, BulkPowerOptions? options = null, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(targets);
        var list = targets.ToArray();
        var run = new BulkRun(this, action, options ?? new BulkPowerOptions(), list.Length, cancellationToken);
        _executor.Post(() => StartBulk(run, [.. list.Select(t => t.Node)], list!, new string?[list.Length]));
        return run.Task;
    }

    private void StartBulk(BulkRun run, NodeId[] ids, PowerTarget?[] targets, string?[] reasons)
    {
        run.Started = _time.GetTimestamp();
        for (var i = 0; i < ids.Length; i++)
        {
            var target = targets[i];
            if (target is null)
            {
                run.RecordImmediate(i, ids[i], reasons[i] ?? "no power settings");
                continue;
            }

            Submit(new PowerOperation(target, run.Action, OperationOwner.Bulk, run, run.Cancellation)
            {
                CallTimeout = run.Options.CallTimeout ?? _options.CallTimeout,
                Retries = run.Options.Retries ?? _options.Retries,
                Index = i,
            });
        }

        run.CompleteIfDone();
    }

    /// <summary>One bulk run's results as they arrive; touched only on the executor.</summary>
    private sealed class BulkRun(PowerModule module, PowerAction action, BulkPowerOptions options, int count, CancellationToken cancellation)
    {
        private readonly TaskCompletionSource<BulkPowerSummary> _done = new(TaskCreationOptions.RunContinuationsAsynchronously);
        private readonly BulkNodeResult?[] _results = new BulkNodeResult?[count];
        private int _remaining = count;

        public PowerAction Action { get; } = action;

        public BulkPowerOptions Options { get; } = options;

        public CancellationToken Cancellation { get; } = cancellation;

        public long Started { get; set; }

        public Task<BulkPowerSummary> Task => _done.Task;

        public void Fail(Exception e) => _done.TrySetException(e);

        public void RecordImmediate(int index, NodeId node, string reason)
        {
            _results[index] = new BulkNodeResult(node, node.ToString(), BulkOutcome.Failed) { Reason = reason, Error = PowerErrorKind.Configuration };
            _remaining--;
        }

        public void Record(PowerOperation op)
        {
            var ok = op.Error is null && !op.Cancelled;
            var outcome = ok ? BulkOutcome.Ok : op.Error == PowerErrorKind.Timeout && !op.Cancelled ? BulkOutcome.TimedOut : BulkOutcome.Failed;
            _results[op.Index] = new BulkNodeResult(op.Target.Node, op.Target.Name, outcome)
            {
                Status = ok ? op.Status : PowerStatus.Unknown,
                Reason = ok ? null : op.Cancelled ? "cancelled" : op.Reason,
                Error = ok ? null : op.Error,
                Calls = op.Calls,
                Duration = module._time.GetElapsedTime(op.Submitted),
            };
            if (ok && Options.ReportDiscoveries && module._host?.Store.Contains(op.Target.Node) == true)
            {
                module.TryDiscover(op.Target.Node, op.Status);
            }

            _remaining--;
            CompleteIfDone();
        }

        public void CompleteIfDone()
        {
            if (_remaining != 0)
            {
                return;
            }

            var summary = new BulkPowerSummary(Action, [.. _results.Select(r => r!)], module._time.GetElapsedTime(Started));
            PowerLog.BulkDone(module._logger, Action, summary.Requested, summary.Ok, summary.Failed, summary.TimedOut, summary.Elapsed);
            _done.TrySetResult(summary);
        }
    }
}
