// What the engine is doing for one node, for the API and tests.
using Kraken.Tree.State;

namespace Kraken.Tree.Reconcile;

public enum ReconcileStatus : byte
{
    /// <summary>Not planned yet.</summary>
    Idle,

    /// <summary>Dsc satisfies Cfg: nothing to do.</summary>
    Complete,

    /// <summary>The current step was dispatched to its module; waiting for Dsc to confirm it.</summary>
    Running,

    /// <summary>The current step waits for a free slot of its module (per-module concurrency).</summary>
    Queued,

    /// <summary>The current step is another daemon's to perform (context); following it through Dsc.</summary>
    Following,

    /// <summary>A step failed; waiting before re-planning.</summary>
    Backoff,

    /// <summary>No path to the goal; see the plan's reason.</summary>
    Unreachable,

    /// <summary>Too many failed steps for the current goal; waits for a Cfg change, a retry or a thaw.</summary>
    Failed,

    /// <summary>The engine is frozen; the node is re-planned on thaw.</summary>
    Frozen,

    /// <summary>
    /// Within <see cref="ReconcileOptions.RestartGrace"/> of this daemon's start, a node that looks alive (for the
    /// daemon: powered on, RunState not yet known) is left alone until it reports or the grace ends, so a restarted
    /// parent does not boot again children whose daemons only have to join it.
    /// </summary>
    Holding,
}

/// <summary>
/// A snapshot of one node's reconciliation: its plan (<see cref="Plan"/>, whose <see cref="MutationPlan.Reason"/>
/// explains an unreachable goal), the step in progress, when it started and times out, and failures so far.
/// </summary>
public sealed record NodeReconcileState(
    NodeId Node,
    ReconcileStatus Status,
    MutationPlan? Plan,
    int CurrentStep,
    DateTimeOffset? Started,
    DateTimeOffset? Deadline,
    int Attempts,
    string? LastFailure)
{
    /// <summary>The step in progress, or null.</summary>
    public PlanStep? Step => Plan is { Status: PlanStatus.Path } p && CurrentStep < p.Steps.Length
        && Status is ReconcileStatus.Running or ReconcileStatus.Queued or ReconcileStatus.Following ? p.Steps[CurrentStep] : null;

    /// <summary>Why the goal cannot be reached, when it cannot.</summary>
    public string? Reason => Status == ReconcileStatus.Unreachable ? Plan?.Reason : null;
}
