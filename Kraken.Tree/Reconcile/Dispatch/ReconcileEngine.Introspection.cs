// Read-only views of what the engine is doing, per node.
using Kraken.Net.Execution;
using Kraken.Tree.State;

namespace Kraken.Tree.Reconcile;

public sealed partial class ReconcileEngine
{
    /// <summary>The node's current plan and progress, or null when the engine has not seen it. Call on the engine's executor.</summary>
    public NodeReconcileState? GetState(NodeId node) =>
        _runs.TryGetValue(node, out var r)
            ? new NodeReconcileState(r.Id, r.Status, r.Plan, r.Step, r.Started, r.Deadline, r.Attempts, r.LastFailure)
            : null;

    /// <summary><see cref="GetState"/> from any thread.</summary>
    public Task<NodeReconcileState?> GetStateAsync(NodeId node) => _executor.InvokeAsync(() => GetState(node));

    /// <summary>How many requests each module has in flight and queued. Call on the engine's executor.</summary>
    public IReadOnlyDictionary<string, (int InFlight, int Queued)> ModuleLoad() =>
        _slots.ToDictionary(kv => kv.Key, kv => (kv.Value.InFlight, kv.Value.Waiting.Count(e => !e.Run.Removed && e.Run.Generation == e.Generation)), StringComparer.Ordinal);

    /// <summary>What the planner would do for a node now (a what-if that changes nothing). Call on the engine's executor.</summary>
    public MutationPlan? PlanNow(NodeId node) => _store.TryGet(node, out var cfg, out var dsc) ? _planner.Plan(cfg, dsc) : null;
}
