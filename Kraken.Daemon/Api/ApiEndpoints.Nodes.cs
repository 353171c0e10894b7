// Nodes and values: list/get Cfg and Dsc, create/replace/patch/delete Cfg, one value by URL, bulk set, import/export.
using System.Text.Json;
using Kraken.Daemon.Hosting;
using Kraken.Tree.State;
using Kraken.Tree.StateFiles;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Routing;

namespace Kraken.Daemon.Api;

public static partial class ApiEndpoints
{
    private static void MapNodes(RouteGroupBuilder reads, RouteGroupBuilder writes)
    {
        // "= null" on the query parameters: the request delegate generator counts an array parameter as optional
        // only when it has a default, and the OpenAPI document says "required" for the others.
        reads.MapGet("/{view}/nodes", (string view, HttpContext http, KrakenDaemon daemon, LargeResponseGate gate, [Microsoft.AspNetCore.Mvc.FromQuery(Name = "id")] string[]? id = null, string? under = null, [Microsoft.AspNetCore.Mvc.FromQuery(Name = "where")] string[]? where = null) =>
        {
            var v = ApiSupport.ParseView(view);
            var selection = Selection.FromQuery(daemon.Store.Schema, id ?? [], under, where ?? []);
            if (selection.Ids is not null)
            {
                // Named nodes: as many as the URL can name, so an ordinary answer.
                var named = selection.Apply(daemon.Store, v);
                return ApiSupport.Json(w => WriteNodeList(w, named));
            }

            // Possibly every node: streamed, under the gate; the selection is applied once a place is held.
            return gate.StreamNodeList(http, "this node list", () => selection.Apply(daemon.Store, v), StateFileWriter.WriteNode);
        }).Doc("ListNodes", "List the nodes of a view (cfg or dsc), optionally filtered by id, parent subtree (under) and URL=VALUE conditions (where). Without ids the answer is streamed and counts against Api:MaxConcurrentExports (503 and Retry-After beyond).")
          .Produces<StateNodeList>().Problems(400, 404, 503)
          .Parameter(ParameterSchemaMetadata.View).Parameter(Under).Parameter(ParameterSchemaMetadata.NodeId);

        reads.MapGet("/{view}/nodes/{id}", (string view, string id, HttpContext http, KrakenDaemon daemon) =>
        {
            var record = daemon.Store.GetRequired(ApiSupport.ParseView(view), ApiSupport.ParseId(id));
            return NodeResult(http, record);
        }).Doc("GetNode", "One node's record in a view; its version is the ETag.")
          .Produces<StateNode>().Problems(400, 404).Parameter(ParameterSchemaMetadata.View).Parameter(ParameterSchemaMetadata.NodeId);

        reads.MapGet("/{view}/nodes/{id}/values", (string view, string id, KrakenDaemon daemon) =>
        {
            var record = daemon.Store.GetRequired(ApiSupport.ParseView(view), ApiSupport.ParseId(id));
            return ApiSupport.Json(w => ApiSupport.WriteValues(w, record));
        }).Doc("GetValues", "Every set value of a node, as an object of state URL to value.")
          .Produces<IReadOnlyDictionary<string, string>>().Problems(400, 404).Parameter(ParameterSchemaMetadata.View).Parameter(ParameterSchemaMetadata.NodeId);

        reads.MapGet("/{view}/nodes/{id}/values/{**url}", (string view, string id, string url, KrakenDaemon daemon) =>
        {
            var record = daemon.Store.GetRequired(ApiSupport.ParseView(view), ApiSupport.ParseId(id));
            var resolved = daemon.Store.Schema.Resolve("/" + url);
            return ApiSupport.Json(w => WriteOneValue(w, record, resolved));
        }).Doc("GetValue", "One value of a node by state URL (e.g. .../values/PhysState or .../values/Extensions/Pxe/State).")
          .Produces<ValueAnswer>().Problems(400, 404).Parameter(ParameterSchemaMetadata.View).Parameter(ParameterSchemaMetadata.NodeId);

        writes.MapPost("/cfg/nodes", async (HttpRequest request, KrakenDaemon daemon, CfgNeighbourhood neighbourhood, CancellationToken ct) =>
        {
            RequireCfgOwner(daemon);
            var nodes = ApiSupport.ReadNodes(daemon.Store, neighbourhood, await ApiSupport.ReadBytesAsync(request, ct), single: false);
            var clash = nodes.FirstOrDefault(n => daemon.Store.Contains(n.Id));
            if (clash is not null)
            {
                throw new NodeExistsException(clash.Id);
            }

            var created = new List<NodeRecord>();
            daemon.Store.Batch(s => created.AddRange(nodes.Select(n => s.Create(n))));
            await daemon.CommitAsync(ct);
            return ApiSupport.Json(w => WriteNodeList(w, created), StatusCodes.Status201Created);
        }).Doc("CreateNodes", "Create one node (a node object) or several ({\"nodes\": [...]}) in Cfg; all or none.")
          .Accepts<NodesInput>(ApiSupport.JsonContentType).Produces<StateNodeList>(StatusCodes.Status201Created).Problems(400, 409, 503);

        writes.MapPut("/cfg/nodes/{id}", async (string id, HttpRequest request, HttpContext http, KrakenDaemon daemon, CfgNeighbourhood neighbourhood, CancellationToken ct) =>
        {
            RequireCfgOwner(daemon);
            var nodeId = ApiSupport.ParseId(id);
            var body = await ApiSupport.ReadBytesAsync(request, ct);
            var record = ApiSupport.ReadNodes(daemon.Store, neighbourhood, body, single: true)[0];
            if (record.Id != nodeId)
            {
                throw ApiSupport.BadRequest("Id mismatch", $"The body's id {record.Id} differs from the path's {nodeId}.");
            }

            var stored = daemon.Store.Replace(StateView.Cfg, record, ExpectedVersion(http));
            await daemon.CommitAsync(ct);
            return NodeResult(http, stored);
        }).Doc("ReplaceNode", "Replace a node's whole Cfg record (If-Match: \"version\" makes it conditional).")
          .Accepts<StateNode>(ApiSupport.JsonContentType).Produces<StateNode>().Problems(400, 404, 409, 412, 503).Parameter(ParameterSchemaMetadata.NodeId);

        writes.MapPatch("/cfg/nodes/{id}", async (string id, HttpRequest request, HttpContext http, KrakenDaemon daemon, CancellationToken ct) =>
        {
            RequireCfgOwner(daemon);
            var nodeId = ApiSupport.ParseId(id);
            using var doc = await ApiSupport.ReadJsonAsync(request, ct);
            var values = ApiSupport.ParseValues(daemon.Store.Schema, doc.RootElement, "The body");
            var stored = daemon.Store.Update(StateView.Cfg, nodeId, values, ExpectedVersion(http));
            await daemon.CommitAsync(ct);
            return NodeResult(http, stored);
        }).Doc("PatchNode", "Set several Cfg values of a node atomically: {\"/PhysState\": \"POWER_ON\", \"/Arch\": null}.")
          .Accepts<IReadOnlyDictionary<string, ScalarValue>>(ApiSupport.JsonContentType).Produces<StateNode>().Problems(400, 404, 409, 412, 503).Parameter(ParameterSchemaMetadata.NodeId);

        writes.MapDelete("/cfg/nodes/{id}", async (string id, KrakenDaemon daemon, CancellationToken ct) =>
        {
            RequireCfgOwner(daemon);
            var nodeId = ApiSupport.ParseId(id);
            if (!daemon.Store.Delete(nodeId))
            {
                throw new NodeNotFoundException(nodeId);
            }

            await daemon.CommitAsync(ct);
            return Results.NoContent();
        }).Doc("DeleteNode", "Delete a node (both views).")
          .Produces(StatusCodes.Status204NoContent).Problems(400, 404, 409, 503).Parameter(ParameterSchemaMetadata.NodeId);

        writes.MapPut("/cfg/nodes/{id}/values/{**url}", async (string id, string url, HttpRequest request, HttpContext http, KrakenDaemon daemon, CancellationToken ct) =>
        {
            RequireCfgOwner(daemon);
            var nodeId = ApiSupport.ParseId(id);
            var resolved = ApiSupport.ResolveLeaf(daemon.Store.Schema, url);
            using var doc = await ApiSupport.ReadJsonAsync(request, ct);
            if (doc.RootElement.ValueKind != JsonValueKind.Object || !doc.RootElement.TryGetProperty("value", out var value))
            {
                throw ApiSupport.BadRequest("Invalid body", "The body must be {\"value\": ...} (null unsets the value).");
            }

            var stored = daemon.Store.Set(StateView.Cfg, nodeId, resolved, ApiSupport.ParseValue(resolved, value), ExpectedVersion(http));
            await daemon.CommitAsync(ct);
            http.Response.Headers.ETag = ETag(stored);
            return ApiSupport.Json(w => WriteOneValue(w, stored, resolved));
        }).Doc("SetValue", "Set one Cfg value by state URL: body {\"value\": \"POWER_ON\"}.")
          .Accepts<SetValueRequest>(ApiSupport.JsonContentType).Produces<ValueAnswer>().Problems(400, 404, 409, 412, 503).Parameter(ParameterSchemaMetadata.NodeId);

        writes.MapPost("/cfg/bulk", async (HttpRequest request, KrakenDaemon daemon, CancellationToken ct) =>
        {
            RequireCfgOwner(daemon);
            using var doc = await ApiSupport.ReadJsonAsync(request, ct);
            var root = doc.RootElement;
            if (root.ValueKind != JsonValueKind.Object || !root.TryGetProperty("set", out var set))
            {
                throw ApiSupport.BadRequest("Invalid body", "The body must be {\"select\": {...}, \"set\": {\"/url\": value}}.");
            }

            var selection = root.TryGetProperty("select", out var select) ? Selection.FromJson(daemon.Store.Schema, select) : new Selection();
            if (selection.IsEmpty && !(root.TryGetProperty("all", out var all) && all.ValueKind == JsonValueKind.True))
            {
                throw ApiSupport.BadRequest("Empty selection", "The selection names no ids, parent or conditions; add \"all\": true to change every node.");
            }

            var values = ApiSupport.ParseValues(daemon.Store.Schema, set, "\"set\"");
            var targets = selection.Apply(daemon.Store, StateView.Cfg);
            CheckRecordSizes(targets, values);
            var changed = new List<NodeId>();
            daemon.Store.Batch(s =>
            {
                foreach (var t in targets)
                {
                    if (s.Update(StateView.Cfg, t.Id, values).Version != t.Version)
                    {
                        changed.Add(t.Id);
                    }
                }
            });
            await daemon.CommitAsync(ct);
            return ApiSupport.Json(w =>
            {
                w.WriteStartObject();
                w.WriteNumber("selected", targets.Count);
                w.WriteNumber("changed", changed.Count);
                w.WriteStartArray("nodes");
                foreach (var c in changed)
                {
                    w.WriteStringValue(c.ToString());
                }

                w.WriteEndArray();
                w.WriteEndObject();
            });
        }).Doc("BulkSet", "Set the same Cfg values on a selection: {\"select\": {\"ids\": [...], \"under\": \"parent\", \"where\": {...}}, \"set\": {...}}.")
          .Accepts<BulkSetRequest>(ApiSupport.JsonContentType).Produces<BulkSetResult>().Problems(400, 409, 503);

        writes.MapPost("/cfg/import", async (HttpRequest request, string? mode, KrakenDaemon daemon, CancellationToken ct) =>
        {
            RequireCfgOwner(daemon);
            var importMode = mode switch
            {
                null or "" or "upsert" => ImportMode.Upsert,
                "create" => ImportMode.CreateOnly,
                _ => throw ApiSupport.BadRequest("Invalid mode", $"'{mode}' is not an import mode; use upsert or create."),
            };
            var result = StateFileImporter.Import(daemon.Store, await ApiSupport.ReadBytesAsync(request, ct), importMode);
            await daemon.CommitAsync(ct);
            return ApiSupport.Json(w =>
            {
                w.WriteStartObject();
                w.WriteNumber("created", result.Created);
                w.WriteNumber("replaced", result.Replaced);
                w.WriteNumber("unchanged", result.Unchanged);
                w.WriteStartArray("warnings");
                foreach (var warning in result.Warnings)
                {
                    w.WriteStringValue(warning);
                }

                w.WriteEndArray();
                w.WriteEndObject();
            });
        }).Doc("Import", "Import a state file (kraken-state/1 or the original's NodeList) into Cfg; all or nothing.")
          .Accepts<ImportInput>(ApiSupport.JsonContentType).Produces<ImportResult>().Problems(400, 409, 503)
          .Parameter(new ParameterSchemaMetadata("mode", null, "upsert", "create"));

        reads.MapGet("/{view}/export", (string view, HttpContext http, KrakenDaemon daemon, LargeResponseGate gate) =>
        {
            var v = ApiSupport.ParseView(view);
            return gate.Stream(http, "this export", ApiSupport.JsonContentType + "; charset=utf-8", (body, ct) => StateFileWriter.WriteAsync(daemon.Store.Snapshot(v), body, ct));
        }).Doc("Export", "The whole view as a state file (kraken-state/1), streamed; at most Api:MaxConcurrentExports exports and whole lists at once (503 and Retry-After beyond).")
          .Produces<StateFile>().Problems(404, 503).Parameter(ParameterSchemaMetadata.View);
    }

    private static readonly ParameterSchemaMetadata Under = new("under", "uuid");

    private static void RequireCfgOwner(KrakenDaemon daemon)
    {
        if (!daemon.Options.IsRoot)
        {
            throw new ApiProblemException(StatusCodes.Status409Conflict, "Not the root", "Cfg is owned by the root of the tree and copied down; write it at the root.");
        }
    }

    private static ulong? ExpectedVersion(HttpContext http)
    {
        var ifMatch = http.Request.Headers.IfMatch.ToString();
        if (string.IsNullOrEmpty(ifMatch))
        {
            return null;
        }

        return ulong.TryParse(ifMatch.Trim().Trim('"'), out var v)
            ? v
            : throw ApiSupport.BadRequest("Invalid If-Match", $"If-Match '{ifMatch}' is not a version (\"7\").");
    }

    private static string ETag(NodeRecord record) => $"\"{record.Version}\"";

    private static IResult NodeResult(HttpContext http, NodeRecord record)
    {
        http.Response.Headers.ETag = ETag(record);
        return ApiSupport.Json(w => StateFileWriter.WriteNode(w, record));
    }

    /// <summary>{"nodes": [...]} with each node written by <paramref name="writeNode"/> (ours by default, or the original's shape).</summary>
    private static void WriteNodeList(Utf8JsonWriter w, IEnumerable<NodeRecord> nodes, Action<Utf8JsonWriter, NodeRecord>? writeNode = null)
    {
        writeNode ??= StateFileWriter.WriteNode;
        w.WriteStartObject();
        w.WriteStartArray("nodes");
        foreach (var n in nodes)
        {
            writeNode(w, n);
        }

        w.WriteEndArray();
        w.WriteEndObject();
    }

    private static void WriteOneValue(Utf8JsonWriter w, NodeRecord record, StateUrl url)
    {
        w.WriteStartObject();
        w.WriteString("node", record.Id.ToString());
        w.WriteString("url", url.Path);
        ApiSupport.WriteValue(w, "value", url.IsLeaf ? url.Get(record) : StateValue.None);
        w.WriteNumber("version", record.Version);
        w.WriteEndObject();
    }

    /// <summary>
    /// A batch stops at the first write that fails, keeping the ones before: text that would take a record past its
    /// size limit is found before anything is written. Each value was checked when it was parsed.
    /// </summary>
    private static void CheckRecordSizes(IReadOnlyList<NodeRecord> targets, KeyValuePair<StateUrl, StateValue>[] values)
    {
        if (!values.Any(v => v.Value.Kind == ValueKind.String))
        {
            return;
        }

        foreach (var t in targets)
        {
            var editor = t.Edit();
            foreach (var (url, value) in values)
            {
                editor.Set(url, value);
            }

            if (!ValueRules.TryCheckSize(editor.Build(), out var error))
            {
                throw new InvalidStateValueException("/", $"Node {t.Id}: {error}; nothing was changed.") { Node = t.Id };
            }
        }
    }
}
