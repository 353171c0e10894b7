// The engines' views: the mutation graph, a node's plan, freeze and thaw, and the tree's adjacencies.
using System.Text.Json;
using Kraken.Daemon.Hosting;
using Kraken.Tree.Reconcile;
using Kraken.Tree.State;
using Kraken.Tree.Sync;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Routing;

namespace Kraken.Daemon.Api;

public static partial class ApiEndpoints
{
    private static void MapEngine(RouteGroupBuilder reads, RouteGroupBuilder writes)
    {
        reads.MapGet("/graph", (string? format, KrakenDaemon daemon) => format switch
        {
            null or "" or "json" => Results.Text(daemon.Reconcile.Graph.ToJson(), ApiSupport.JsonContentType),
            "dot" => Results.Text(daemon.Reconcile.Graph.ToDot(), "text/vnd.graphviz"),
            _ => throw ApiSupport.BadRequest("Invalid format", $"'{format}' is not a graph format; use json or dot."),
        }).Doc("GetGraph", "The mutation graph of the registered modules, as JSON or (format=dot) Graphviz DOT.")
          .Produces<MutationGraphAnswer>().Problems(400)
          .Parameter(new ParameterSchemaMetadata("format", null, "json", "dot"));

        reads.MapGet("/nodes/{id}/plan", async (string id, KrakenDaemon daemon) =>
        {
            var nodeId = ApiSupport.ParseId(id);
            if (!daemon.Store.Contains(nodeId))
            {
                throw new NodeNotFoundException(nodeId);
            }

            // The engine's state says what runs; the plan is what the planner finds from Dsc to Cfg now
            // (also while frozen, or before the engine has looked at a fresh change).
            var state = await daemon.Reconcile.GetStateAsync(nodeId);
            var plan = daemon.Reconcile.PlanNow(nodeId);
            return ApiSupport.Json(w => WritePlan(w, nodeId, state, plan));
        }).Doc("GetPlan", "A node's reconcile state and current plan (the path of mutations from Dsc to Cfg).")
          .Produces<NodePlanAnswer>().Problems(400, 404).Parameter(ParameterSchemaMetadata.NodeId);

        reads.MapGet("/reconcile", (KrakenDaemon daemon) => Frozen(daemon.Reconcile.IsFrozen, daemon))
            .Doc("GetFrozen", "Whether the reconcile engine is frozen, and why: the cluster's freeze (set at the root) or this daemon's own.")
            .Produces<FreezeState>();
        writes.MapPost("/reconcile/freeze", async (KrakenDaemon daemon) => Frozen(await daemon.SetFrozenAsync(true), daemon))
            .Doc("Freeze", "At the root: freeze the whole cluster, every tier stops dispatching mutations. At a child: freeze this daemon only.")
            .Produces<FreezeState>().Problems(503);
        writes.MapPost("/reconcile/thaw", async (KrakenDaemon daemon) => Frozen(await daemon.SetFrozenAsync(false), daemon))
            .Doc("Thaw", "At the root: thaw the whole cluster. At a child: undo this daemon's own freeze (the cluster's stays).")
            .Produces<FreezeState>().Problems(503);

        reads.MapGet("/tree", (KrakenDaemon daemon) => ApiSupport.Json(w => WriteTree(w, daemon)))
            .Doc("GetTree", "This daemon's place in the tree: its parent and children adjacencies and their states.")
            .Produces<TreeAnswer>();
    }

    internal static IResult Frozen(bool frozen, KrakenDaemon? daemon = null) => ApiSupport.Json(w =>
    {
        w.WriteStartObject();
        w.WriteBoolean("frozen", frozen);
        if (daemon is not null)
        {
            var state = daemon.Freeze;
            w.WriteBoolean("cluster", state.Cluster);
            w.WriteBoolean("local", state.Local);
        }

        w.WriteEndObject();
    });

    private static void WritePlan(Utf8JsonWriter w, NodeId node, NodeReconcileState? state, MutationPlan? plan)
    {
        w.WriteStartObject();
        w.WriteString("node", node.ToString());
        w.WriteString("status", state?.Status.ToString() ?? (plan?.Status == PlanStatus.Complete ? "Complete" : "Idle"));
        if (state is not null)
        {
            w.WriteNumber("step", state.CurrentStep);
            w.WriteNumber("attempts", state.Attempts);
            if (state.LastFailure is { } failure)
            {
                w.WriteString("lastFailure", failure);
            }

            if (state.Deadline is { } deadline)
            {
                w.WriteString("deadline", deadline);
            }
        }

        if (plan is null)
        {
            w.WriteNull("plan");
        }
        else
        {
            w.WriteStartObject("plan");
            w.WriteString("status", plan.Status.ToString());
            w.WriteNumber("cost", plan.Cost);
            w.WriteString("start", plan.Start);
            w.WriteString("goal", plan.Goal);
            if (plan.Reason is { } reason)
            {
                w.WriteString("reason", reason);
            }

            w.WriteStartArray("steps");
            foreach (var step in plan.Steps)
            {
                w.WriteStartObject();
                w.WriteString("mutation", step.Mutation.Id);
                w.WriteString("module", step.Mutation.Module);
                w.WriteString("from", step.From);
                w.WriteString("to", step.To);
                w.WriteNumber("cost", step.Mutation.Cost);
                w.WriteEndObject();
            }

            w.WriteEndArray();
            w.WriteEndObject();
        }

        w.WriteEndObject();
    }

    private static void WriteTree(Utf8JsonWriter w, KrakenDaemon daemon)
    {
        var sync = daemon.Sync;
        w.WriteStartObject();
        w.WriteString("self", daemon.Self.ToString());
        w.WriteString("nodename", daemon.Store.Get(StateView.Cfg, daemon.Self)?.Nodename);
        w.WriteString("role", daemon.Options.IsRoot ? "root" : "child");
        w.WriteString("syncEndPoint", daemon.SyncEndPoint?.ToString());
        w.WriteString("profile", sync.Options.Profile.ToString());
        w.WriteNumber("nodes", daemon.Store.Count);
        w.WriteStartArray("adjacencies");
        foreach (var a in sync.Adjacencies.OrderBy(a => a.Role).ThenBy(a => a.Peer))
        {
            w.WriteStartObject();
            w.WriteString("peer", a.Peer.ToString());
            w.WriteString("nodename", daemon.Store.Get(StateView.Cfg, a.Peer)?.Nodename);
            w.WriteString("role", a.Role.ToString());
            w.WriteString("state", a.State.ToString());
            w.WriteNumber("sinceSeconds", Math.Round((sync.Now - a.Since).TotalSeconds, 3));
            w.WriteString("endPoint", a.EndPoint?.ToString());
            if (a.Role == AdjacencyRole.Parent)
            {
                w.WriteNumber("parentIndex", a.ParentIndex);
            }

            w.WriteEndObject();
        }

        w.WriteEndArray();

        // What this daemon no longer hears of (a dead child and what it carried, unless another child took it over).
        var lost = sync.Lost;
        w.WriteNumber("lostCount", lost.Count);
        w.WriteStartArray("lost");
        foreach (var id in lost.Take(LostShown))
        {
            w.WriteStartObject();
            w.WriteString("id", id.ToString());
            w.WriteString("nodename", daemon.Store.Get(StateView.Cfg, id)?.Nodename);
            w.WriteEndObject();
        }

        w.WriteEndArray();
        w.WriteEndObject();
    }

    /// <summary>At most this many lost nodes are listed by name; <c>lostCount</c> has them all.</summary>
    private const int LostShown = 1000;
}
