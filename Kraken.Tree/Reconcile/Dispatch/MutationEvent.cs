// What happened to one step of a node's plan, for observers such as the daemon's event stream.
using Kraken.Tree.State;

namespace Kraken.Tree.Reconcile;

public enum MutationEventKind : byte
{
    Dispatched,
    Confirmed,
    TimedOut,
    Failed,
    Interrupted,
}

/// <summary>One step event: the node, the mutation and its module, and for failures the reason.</summary>
public readonly record struct MutationEvent(MutationEventKind Kind, NodeId Node, string Mutation, string Module, DateTimeOffset At, string? Reason = null);
