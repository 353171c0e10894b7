// The shapes of the engine endpoints' bodies (graph, plan, tree), for the OpenAPI document.
using Kraken.Tree.Reconcile;
using Kraken.Tree.Sync;

namespace Kraken.Daemon.Api;

/// <summary>The mutation graph (<c>MutationGraph.ToJson</c>).</summary>
public sealed record MutationGraphAnswer(
    IReadOnlyList<string> MutatorUrls,
    IReadOnlyList<string> ConstraintUrls,
    IReadOnlyList<GraphMutation> Mutations,
    IReadOnlyList<GraphVertex> Vertices,
    IReadOnlyList<GraphEdge> Edges);

public sealed record GraphMutation(
    string Id,
    string Module,
    MutationContext Context,
    int Cost,
    double TimeoutSeconds,
    IReadOnlyList<GraphChange> Mutates,
    IReadOnlyList<GraphCondition> Requires,
    IReadOnlyList<GraphCondition> Excludes,
    GraphCondition? FailTo = null);

public sealed record GraphChange(string Url, string From, string To);

public sealed record GraphCondition(string Url, string Value);

/// <summary><c>values</c>: State URL to value: what the vertex knows.</summary>
public sealed record GraphVertex(int Id, string Label, IReadOnlyDictionary<string, string> Values);

public sealed record GraphEdge(int Id, int From, int To, string Mutation);

/// <summary>A node's reconcile state (step, attempts, ... only while the engine holds one) and its plan now. <c>deadline</c>: When the running step times out.</summary>
public sealed record NodePlanAnswer(
    string Node,
    ReconcileStatus Status,
    PlanAnswer? Plan,
    int? Step = null,
    int? Attempts = null,
    string? LastFailure = null,
    DateTimeOffset? Deadline = null);

/// <summary><c>reason</c>: Why no path exists (Unreachable).</summary>
public sealed record PlanAnswer(PlanStatus Status, long Cost, string Start, string Goal, IReadOnlyList<PlanStepAnswer> Steps, string? Reason = null);

public sealed record PlanStepAnswer(string Mutation, string Module, string From, string To, int Cost);

/// <summary><c>lost</c>: At most 1,000 of the nodes this daemon no longer hears of; <c>lostCount</c> has them all.</summary>
public sealed record TreeAnswer(
    string Self,
    string? Nodename,
    DaemonRole Role,
    string? SyncEndPoint,
    SyncProfile Profile,
    int Nodes,
    IReadOnlyList<AdjacencyAnswer> Adjacencies,
    int LostCount,
    IReadOnlyList<LostNode> Lost);

/// <summary><c>parentIndex</c>: For a parent: its place in Sync:Parents (0 is the primary).</summary>
public sealed record AdjacencyAnswer(string Peer, string? Nodename, AdjacencyRole Role, AdjacencyState State, double SinceSeconds, string? EndPoint, int? ParentIndex = null);

public sealed record LostNode(string Id, string? Nodename);
