// The original Kraken's REST paths (KRAKEN-REFERENCE 6.9), for krakenctl and kraken-dashboard: same paths,
// JSON shapes and status codes, except that every state change needs the token and no GET changes anything.
using System.Text.Json;
using Kraken.Daemon.Hosting;
using Kraken.Tree.Reconcile;
using Kraken.Tree.State;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Routing;

namespace Kraken.Daemon.Api;

public static partial class ApiEndpoints
{
    private static void MapCompat(WebApplication app)
    {
        var reads = app.MapGroup(string.Empty).WithTags("compat").AddEndpointFilter(ApiSupport.MapErrors);
        var writes = reads.MapGroup(string.Empty).AddEndpointFilter(ApiSupport.RequireToken).WithMetadata(RequiresTokenMetadata.Instance)
            .ProducesProblem(StatusCodes.Status401Unauthorized);

        reads.MapGet("/cfg/nodes", (HttpContext h, KrakenDaemon d, LargeResponseGate g) => g.StreamNodeList(h, "this node list", () => d.Store.Snapshot(StateView.Cfg), LegacyNodeJson.Write))
            .Doc("CompatCfgNodes", "Original API: every Cfg node as {\"nodes\": [...]}, streamed; counts against Api:MaxConcurrentExports.")
            .Produces<LegacyNodeList>().Problems(503);
        reads.MapGet("/dsc/nodes", (HttpContext h, KrakenDaemon d, LargeResponseGate g) => g.StreamNodeList(h, "this node list", () => d.Store.Snapshot(StateView.Dsc), LegacyNodeJson.Write))
            .Doc("CompatDscNodes", "Original API: every Dsc node, streamed; counts against Api:MaxConcurrentExports.")
            .Produces<LegacyNodeList>().Problems(503);
        reads.MapGet("/cfg/node/{id}", (string id, KrakenDaemon d) => LegacyOne(d, StateView.Cfg, id)).Doc("CompatCfgNode", "Original API: one Cfg node; 404 with an empty body if missing.")
            .Produces<LegacyNode>().Produces(StatusCodes.Status404NotFound).Parameter(ParameterSchemaMetadata.NodeId);
        reads.MapGet("/dsc/node/{id}", (string id, KrakenDaemon d) => LegacyOne(d, StateView.Dsc, id)).Doc("CompatDscNode", "Original API: one Dsc node; 404 with an empty body if missing.")
            .Produces<LegacyNode>().Produces(StatusCodes.Status404NotFound).Parameter(ParameterSchemaMetadata.NodeId);

        writes.MapPut("/cfg/nodes", (HttpRequest r, KrakenDaemon d, CfgNeighbourhood n, CancellationToken ct) => LegacyBulk(r, d, n, StateView.Cfg, create: false, ct)).Doc("CompatPutCfgNodes", "Original API: whole-node Cfg update of each node; answers with those that succeeded.").LegacyBulkAnswers();
        writes.MapPost("/cfg/nodes", (HttpRequest r, KrakenDaemon d, CfgNeighbourhood n, CancellationToken ct) => LegacyBulk(r, d, n, StateView.Cfg, create: true, ct)).Doc("CompatPostCfgNodes", "Original API: create each node; answers with those that succeeded.").LegacyBulkAnswers();
        writes.MapPut("/dsc/nodes", (HttpRequest r, KrakenDaemon d, CfgNeighbourhood n, CancellationToken ct) => LegacyBulk(r, d, n, StateView.Dsc, create: false, ct)).Doc("CompatPutDscNodes", "Original API: whole-node Dsc update of each node.").LegacyBulkAnswers();

        // The original also took an id in the path, and ignored it: the body's id counts.
        writes.MapPost("/cfg/node", (HttpRequest r, KrakenDaemon d, CfgNeighbourhood n, CancellationToken ct) => LegacySingle(r, d, n, StateView.Cfg, create: true, ct))
            .Doc("CompatPostCfgNode", "Original API: create a node from the body; 409 with a message on failure.").LegacySingleAnswers(StatusCodes.Status409Conflict);
        writes.MapPost("/cfg/node/{id}", (string id, HttpRequest r, KrakenDaemon d, CfgNeighbourhood n, CancellationToken ct) => LegacySingle(r, d, n, StateView.Cfg, create: true, ct))
            .Doc("CompatPostCfgNodeById", "Original API: create a node from the body (the path's id is ignored); 409 with a message on failure.").LegacySingleAnswers(StatusCodes.Status409Conflict);
        writes.MapPut("/cfg/node", (HttpRequest r, KrakenDaemon d, CfgNeighbourhood n, CancellationToken ct) => LegacySingle(r, d, n, StateView.Cfg, create: false, ct))
            .Doc("CompatPutCfgNode", "Original API: replace a node's Cfg (id from the body); 400 on failure.").LegacySingleAnswers(StatusCodes.Status400BadRequest);
        writes.MapPut("/cfg/node/{id}", (string id, HttpRequest r, KrakenDaemon d, CfgNeighbourhood n, CancellationToken ct) => LegacySingle(r, d, n, StateView.Cfg, create: false, ct))
            .Doc("CompatPutCfgNodeById", "Original API: replace a node's Cfg (id from the body, the path's is ignored); 400 on failure.").LegacySingleAnswers(StatusCodes.Status400BadRequest);
        writes.MapPut("/dsc/node", (HttpRequest r, KrakenDaemon d, CfgNeighbourhood n, CancellationToken ct) => LegacySingle(r, d, n, StateView.Dsc, create: false, ct))
            .Doc("CompatPutDscNode", "Original API: replace a node's Dsc (id from the body); 400 on failure.").LegacySingleAnswers(StatusCodes.Status400BadRequest);
        writes.MapPut("/dsc/node/{id}", (string id, HttpRequest r, KrakenDaemon d, CfgNeighbourhood n, CancellationToken ct) => LegacySingle(r, d, n, StateView.Dsc, create: false, ct))
            .Doc("CompatPutDscNodeById", "Original API: replace a node's Dsc (id from the body, the path's is ignored); 400 on failure.").LegacySingleAnswers(StatusCodes.Status400BadRequest);

        writes.MapDelete("/cfg/node/{id}", async (string id, KrakenDaemon d, CancellationToken ct) =>
        {
            // The original crashed here; this deletes and answers with the node as it was.
            RequireCfgOwner(d);
            var nodeId = ApiSupport.ParseId(id);
            var record = d.Store.Get(StateView.Cfg, nodeId);
            if (record is null || !d.Store.Delete(nodeId))
            {
                return EmptyNotFound();
            }

            await d.CommitAsync(ct);
            return ApiSupport.Json(w => LegacyNodeJson.Write(w, record));
        }).Doc("CompatDeleteCfgNode", "Original API: delete a node; answers with the node as it was, 404 with an empty body if missing.")
          .Produces<LegacyNode>().Produces(StatusCodes.Status404NotFound).Problems(409, 503).Parameter(ParameterSchemaMetadata.NodeId);

        reads.MapGet("/graph/json", (KrakenDaemon d) => ApiSupport.Json(w => LegacyGraph(w, d.Reconcile.Graph, null))).Doc("CompatGraph", "Original API: the mutation graph as {nodes: [{label, id}], edges: [{from, to, id}]}.")
            .Produces<LegacyGraph>();
        reads.MapGet("/graph/node/{id}/json", async (string id, KrakenDaemon d) =>
        {
            var nodeId = ApiSupport.ParseId(id);
            var state = d.Store.Contains(nodeId) ? await d.Reconcile.GetStateAsync(nodeId) : null;
            var plan = state?.Plan is { Status: PlanStatus.Path } p ? p : d.Reconcile.PlanNow(nodeId);
            if (plan is not { Status: PlanStatus.Path })
            {
                return Results.Text($"no active path for node {id}", "text/plain", statusCode: StatusCodes.Status409Conflict);
            }

            return ApiSupport.Json(w => LegacyGraph(w, d.Reconcile.Graph, plan));
        }).Doc("CompatNodeGraph", "Original API: the graph with the node's active path coloured; 409 with a message if there is none.")
          .Produces<LegacyGraph>().Produces<string>(StatusCodes.Status409Conflict, "text/plain").Problems(400).Parameter(ParameterSchemaMetadata.NodeId);

        reads.MapGet("/enumerables", (KrakenDaemon d) => ApiSupport.Json(w => LegacyNodeJson.WriteEnumerables(w, d.Store.Schema))).Doc("CompatEnumerables", "Original API: every enum of every extension, plus PhysState and RunState, with numeric keys.")
            .Produces<IReadOnlyList<LegacyEnumerable>>();
        reads.MapGet("/sme/frozen", (KrakenDaemon d) => Frozen(d.Reconcile.IsFrozen)).Doc("CompatFrozen", "Original API: {\"frozen\": bool}.").Produces<FreezeState>();

        // The original froze and thawed on GET; a GET here changes nothing and says how to do it.
        foreach (var verb in new[] { "freeze", "thaw" })
        {
            reads.MapGet($"/sme/{verb}", () => ApiSupport.Problem(StatusCodes.Status405MethodNotAllowed, "Use POST", $"GET /sme/{verb} changes nothing here; POST /sme/{verb} with the bearer token."))
                .Doc($"CompatGet{verb}", $"Original API path, refused: GET never changes state; POST /sme/{verb} with the token.")
                .Problems(StatusCodes.Status405MethodNotAllowed);
            var frozen = verb == "freeze";
            writes.MapPost($"/sme/{verb}", async (KrakenDaemon d) => Frozen(await d.SetFrozenAsync(frozen))).Doc($"Compat{verb}", $"Original API: {verb} the reconcile engine; answers {{\"frozen\": bool}}.")
                .Produces<FreezeState>().Problems(503);
        }

        reads.MapGet("/ws", async (HttpContext http, Events.EventHub hub) =>
        {
            if (http.WebSockets.IsWebSocketRequest)
            {
                await Events.LegacyWebSocket.RunAsync(http, hub);
                return Results.Empty;
            }

            return ApiSupport.Json(w =>
            {
                w.WriteStartObject();
                w.WriteString("host", http.Request.Host.Host);
                w.WriteString("port", (http.Request.Host.Port ?? 80).ToString(System.Globalization.CultureInfo.InvariantCulture));
                w.WriteString("url", "/ws");
                w.WriteEndObject();
            });
        }).Doc("CompatWs", "Original API: {host, port, url} of the websocket; a WebSocket request here speaks the original's protocol.")
          .Produces<LegacyWebSocketInfo>().Produces(StatusCodes.Status101SwitchingProtocols);
    }

    private static RouteHandlerBuilder LegacyBulkAnswers(this RouteHandlerBuilder builder) =>
        builder.Accepts<LegacyNodeList>(ApiSupport.JsonContentType).Produces<LegacyNodeList>().Problems(400, 409, 503);

    /// <summary>The original's answers to a one-node write: the node, or a message in text with <paramref name="failure"/>.</summary>
    private static RouteHandlerBuilder LegacySingleAnswers(this RouteHandlerBuilder builder, int failure) =>
        builder.Accepts<LegacyNode>(ApiSupport.JsonContentType).Produces<LegacyNode>().Produces<string>(failure, "text/plain").Parameter(ParameterSchemaMetadata.NodeId)
            .Problems(failure == StatusCodes.Status409Conflict ? [StatusCodes.Status503ServiceUnavailable] : [StatusCodes.Status409Conflict, StatusCodes.Status503ServiceUnavailable]);

    /// <summary>404 with an empty body, as the original (a content type keeps the status-code page away).</summary>
    private static IResult EmptyNotFound() => Results.Text(string.Empty, "text/plain", statusCode: StatusCodes.Status404NotFound);

    private static IResult LegacyList(IEnumerable<NodeRecord> nodes) => ApiSupport.Json(w => WriteNodeList(w, nodes, LegacyNodeJson.Write));

    private static IResult LegacyOne(KrakenDaemon d, StateView view, string id)
    {
        if (!NodeId.TryParse(id, out var nodeId) || d.Store.Get(view, nodeId) is not { } record)
        {
            return EmptyNotFound();
        }

        return ApiSupport.Json(w => LegacyNodeJson.Write(w, record));
    }

    private static async Task<IResult> LegacyBulk(HttpRequest request, KrakenDaemon d, CfgNeighbourhood neighbourhood, StateView view, bool create, CancellationToken ct)
    {
        if (view == StateView.Cfg)
        {
            RequireCfgOwner(d);
        }

        using var doc = await ApiSupport.ReadJsonAsync(request, ct);
        if (doc.RootElement.ValueKind != JsonValueKind.Object || !doc.RootElement.TryGetProperty("nodes", out var nodes) || nodes.ValueKind != JsonValueKind.Array)
        {
            throw ApiSupport.BadRequest("Invalid body", "The body must be {\"nodes\": [...]}.");
        }

        var done = new List<NodeRecord>();
        foreach (var element in nodes.EnumerateArray())
        {
            try
            {
                done.Add(Apply(d, view, create, ApiSupport.ReadNodes(d.Store, neighbourhood, System.Text.Encoding.UTF8.GetBytes(element.GetRawText()), single: true)[0]));
            }
            catch (Exception ex) when (ex is not StateJournalException && ApiSupport.ToProblem(ex) is not null)
            {
                // As the original: a node that fails is left out of the answer.
            }
        }

        await d.CommitAsync(ct);
        return LegacyList(done);
    }

    private static async Task<IResult> LegacySingle(HttpRequest request, KrakenDaemon d, CfgNeighbourhood neighbourhood, StateView view, bool create, CancellationToken ct)
    {
        if (view == StateView.Cfg)
        {
            RequireCfgOwner(d);
        }

        var body = await ApiSupport.ReadBytesAsync(request, ct);
        NodeRecord record;
        try
        {
            record = ApiSupport.ReadNodes(d.Store, neighbourhood, body, single: true)[0];
        }
        catch (Exception ex) when (ApiSupport.ToProblem(ex) is not null)
        {
            return Results.Text(ex.Message, "text/plain", statusCode: StatusCodes.Status400BadRequest);
        }

        try
        {
            var stored = Apply(d, view, create, record);
            await d.CommitAsync(ct);
            return ApiSupport.Json(w => LegacyNodeJson.Write(w, stored));
        }
        catch (Exception ex) when (ex is not StateJournalException && ApiSupport.ToProblem(ex) is not null)
        {
            return Results.Text(ex.Message, "text/plain", statusCode: create ? StatusCodes.Status409Conflict : StatusCodes.Status400BadRequest);
        }
    }

    private static NodeRecord Apply(KrakenDaemon d, StateView view, bool create, NodeRecord record)
    {
        if (create)
        {
            return d.Store.Create(record);
        }

        if (view == StateView.Cfg)
        {
            return d.Store.Replace(StateView.Cfg, record);
        }

        // A Dsc record read through the state-file reader has Cfg's shape; same schema, so it replaces as is.
        return d.Store.Replace(StateView.Dsc, record);
    }

    /// <summary>{nodes: [{label, id}], edges: [{from, to, id}]}; with a plan, its vertices and edges carry colours.</summary>
    private static void LegacyGraph(Utf8JsonWriter w, MutationGraph graph, MutationPlan? plan)
    {
        using var doc = JsonDocument.Parse(graph.ToJson(indented: false));
        var root = doc.RootElement;
        var onPath = new HashSet<string>(StringComparer.Ordinal);
        var pathVertices = new HashSet<string>(StringComparer.Ordinal);
        if (plan is not null)
        {
            foreach (var step in plan.Steps)
            {
                onPath.Add(step.Mutation.Id);
                pathVertices.Add(step.From);
                pathVertices.Add(step.To);
            }
        }

        w.WriteStartObject();
        w.WriteStartArray("nodes");
        foreach (var v in root.GetProperty("vertices").EnumerateArray())
        {
            var label = v.GetProperty("label").GetString()!;
            w.WriteStartObject();
            w.WriteString("label", label);
            w.WriteNumber("id", v.GetProperty("id").GetInt32());
            if (plan is not null)
            {
                var active = pathVertices.Contains(label);
                w.WriteStartObject("color");
                w.WriteString("border", active ? "#FF0000" : "#2B7CE9");
                w.WriteString("background", active ? "#FFC0CB" : "#97C2FC");
                w.WriteEndObject();
            }

            w.WriteEndObject();
        }

        w.WriteEndArray();
        w.WriteStartArray("edges");
        foreach (var e in root.GetProperty("edges").EnumerateArray())
        {
            w.WriteStartObject();
            w.WriteNumber("from", e.GetProperty("from").GetInt32());
            w.WriteNumber("to", e.GetProperty("to").GetInt32());
            w.WriteNumber("id", e.GetProperty("id").GetInt32());
            if (plan is not null)
            {
                var active = onPath.Contains(e.GetProperty("mutation").GetString()!);
                w.WriteStartObject("color");
                w.WriteString("color", active ? "#FF0000" : "#2B7CE9");
                w.WriteString("highlight", active ? "#FF0000" : "#2B7CE9");
                w.WriteBoolean("inherit", false);
                w.WriteEndObject();
            }

            w.WriteEndObject();
        }

        w.WriteEndArray();
        w.WriteEndObject();
    }
}
