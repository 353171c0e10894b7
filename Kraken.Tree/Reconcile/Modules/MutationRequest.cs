// One dispatched step of a node's plan, as the owning module receives it.
using Kraken.Tree.State;

namespace Kraken.Tree.Reconcile;

/// <summary>
/// A request to perform <see cref="Mutation"/> on <see cref="Node"/>. The engine considers it done when the
/// node's Dsc shows every mutated URL at its to-value; the module reports those values as discoveries.
/// <see cref="Interrupted"/> is cancelled when the engine abandons the step (re-plan, timeout, node deleted,
/// freeze): the module should stop working on it.
/// </summary>
public sealed class MutationRequest
{
    internal MutationRequest(NodeId node, Mutation mutation, NodeRecord cfg, NodeRecord dsc, int attempt, DateTimeOffset started, DateTimeOffset? deadline, CancellationToken interrupted)
    {
        Node = node;
        Mutation = mutation;
        Cfg = cfg;
        Dsc = dsc;
        Attempt = attempt;
        Started = started;
        Deadline = deadline;
        Interrupted = interrupted;
    }

    public NodeId Node { get; }

    public Mutation Mutation { get; }

    /// <summary>The mutation id (<c>OFFtoON</c>).</summary>
    public string MutationId => Mutation.Id;

    /// <summary>The node's Cfg when the step was dispatched.</summary>
    public NodeRecord Cfg { get; }

    /// <summary>The node's Dsc when the step was dispatched.</summary>
    public NodeRecord Dsc { get; }

    /// <summary>How many earlier steps failed while pursuing the node's current goal (0 on the first try).</summary>
    public int Attempt { get; }

    public DateTimeOffset Started { get; }

    /// <summary>When the step times out; null when the mutation has no timeout.</summary>
    public DateTimeOffset? Deadline { get; }

    /// <summary>Cancelled when the engine abandons this step.</summary>
    public CancellationToken Interrupted { get; }

    public override string ToString() => $"{Mutation.Id} ({Mutation.Module}) on {Node}";
}
