// The result of planning one node: nothing to do, a path of mutations, or why there is none.
using System.Collections.Immutable;
using Kraken.Tree.State;

namespace Kraken.Tree.Reconcile;

public enum PlanStatus : byte
{
    /// <summary>Dsc already satisfies Cfg on every mutated URL Cfg sets: nothing to do.</summary>
    Complete,

    /// <summary>A path of one or more mutations leads to the goal.</summary>
    Path,

    /// <summary>No path: <see cref="MutationPlan.Reason"/> says which URL and value cannot be reached, and why.</summary>
    Unreachable,
}

/// <summary>One step of a plan: a mutation and the states it leads from and to.</summary>
public sealed class PlanStep
{
    internal PlanStep(Mutation mutation, UInt128 fromState, UInt128 toState, StateLayout layout)
    {
        Mutation = mutation;
        FromState = fromState;
        ToState = toState;
        From = layout.Format(fromState);
        To = layout.Format(toState);
    }

    public Mutation Mutation { get; }

    /// <summary>The known mutated values before the step (<c>{/PhysState=POWER_OFF}</c>).</summary>
    public string From { get; }

    /// <summary>The known mutated values after the step.</summary>
    public string To { get; }

    internal UInt128 FromState { get; }

    internal UInt128 ToState { get; }

    public override string ToString() => $"{Mutation.Id}: {From} -> {To}";
}

/// <summary>An immutable plan, shared by every node with the same start, goal and constraints.</summary>
public sealed class MutationPlan
{
    internal MutationPlan(PlanStatus status, ImmutableArray<PlanStep> steps, long cost, string start, string goal, string? reason, StateUrl? unreachableUrl, StateValue unreachableValue)
    {
        Status = status;
        Steps = steps;
        Cost = cost;
        Start = start;
        Goal = goal;
        Reason = reason;
        UnreachableUrl = unreachableUrl;
        UnreachableValue = unreachableValue;
    }

    public PlanStatus Status { get; }

    /// <summary>The mutations to run, in order; empty unless <see cref="Status"/> is <see cref="PlanStatus.Path"/>.</summary>
    public ImmutableArray<PlanStep> Steps { get; }

    /// <summary>The sum of the steps' costs.</summary>
    public long Cost { get; }

    /// <summary>The planner's start state (Dsc, with unknowable values cleared).</summary>
    public string Start { get; }

    /// <summary>The goal: the mutated URLs Cfg sets, with their values.</summary>
    public string Goal { get; }

    /// <summary>Why there is no path; null otherwise.</summary>
    public string? Reason { get; }

    /// <summary>The goal URL that cannot be reached (null when unreachable only as a combination).</summary>
    public StateUrl? UnreachableUrl { get; }

    public StateValue UnreachableValue { get; }

    public override string ToString() => Status switch
    {
        PlanStatus.Complete => $"complete at {Start}",
        PlanStatus.Path => string.Join(", ", Steps.Select(s => s.Mutation.Id)),
        _ => $"unreachable: {Reason}",
    };
}
