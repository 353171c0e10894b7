// The engine's bookkeeping for one node: its plan, the step in progress and its failures.
using Kraken.Tree.State;

namespace Kraken.Tree.Reconcile;

internal sealed class NodeRun(NodeId id)
{
    public NodeId Id { get; } = id;

    public ReconcileStatus Status { get; set; }

    public MutationPlan? Plan { get; set; }

    public int Step { get; set; }

    /// <summary>The goal and constraints the plan was made for; a change means Cfg changed.</summary>
    public UInt128 GoalMask { get; set; }

    public UInt128 GoalValues { get; set; }

    public UInt128 Constraints { get; set; }

    public bool HasGoal { get; set; }

    /// <summary>This engine has started a step of its own for the node since it started (a restart grace no longer applies).</summary>
    public bool Acted { get; set; }

    /// <summary>Bumped whenever the step in progress changes, so queued dispatches and timers for an old one are ignored.</summary>
    public int Generation { get; set; }

    public MutationRequest? Request { get; set; }

    public CancellationTokenSource? Interrupt { get; set; }

    public ModuleSlot? Slot { get; set; }

    public DateTimeOffset? Started { get; set; }

    public DateTimeOffset? Deadline { get; set; }

    public int Attempts { get; set; }

    public string? LastFailure { get; set; }

    public bool Removed { get; set; }

    public PlanStep? CurrentStep => Plan is { Status: PlanStatus.Path } p && Step < p.Steps.Length ? p.Steps[Step] : null;

    public bool HasActiveStep => Status is ReconcileStatus.Running or ReconcileStatus.Queued or ReconcileStatus.Following;
}

/// <summary>A module's dispatch slots: how many requests it has in flight, and who waits for one.</summary>
internal sealed class ModuleSlot(IReconcileModule module, int limit)
{
    public IReconcileModule Module { get; } = module;

    public int Limit { get; } = limit;

    public int InFlight { get; set; }

    /// <summary>False while the module says it cannot take requests (starting up); its steps queue meanwhile.</summary>
    public bool Available { get; set; } = true;

    public bool HasRoom => Available && InFlight < Limit;

    /// <summary>Set while the queue is being drained, so a dispatch that fails at once does not recurse into it.</summary>
    public bool Pumping { get; set; }

    public Queue<(NodeRun Run, int Generation)> Waiting { get; } = new();
}
