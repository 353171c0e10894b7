// Power control: bulk actions on a selection (202 and an operation to follow), their progress and summaries, live status.
using System.Globalization;
using System.Text.Json;
using Kraken.Daemon.Hosting;
using Kraken.Daemon.Modules;
using Kraken.Modules.Power;
using Kraken.Tree.State;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Routing;
using Microsoft.Extensions.DependencyInjection;

namespace Kraken.Daemon.Api;

public static partial class ApiEndpoints
{
    /// <summary>The actions of <c>POST /power/{action}</c>, and the Cfg /PhysState each leaves the node in.</summary>
    private static readonly Dictionary<string, (PowerAction Action, string Cfg)> s_powerActions = new(StringComparer.Ordinal)
    {
        ["on"] = (PowerAction.On, "POWER_ON"),
        ["off"] = (PowerAction.Off, "POWER_OFF"),
        ["cycle"] = (PowerAction.Cycle, "POWER_ON"),
        ["reset"] = (PowerAction.Reset, "POWER_ON"),
        ["soft"] = (PowerAction.SoftOff, "POWER_OFF"),
    };

    private static void MapPower(RouteGroupBuilder reads, RouteGroupBuilder writes)
    {
        writes.MapPost("/power/{action}", async (string action, HttpRequest request, HttpContext http, KrakenDaemon daemon, CancellationToken ct) =>
        {
            if (!s_powerActions.TryGetValue(action, out var act))
            {
                throw new ApiProblemException(StatusCodes.Status404NotFound, "Unknown power action", $"'{action}' is not a power action; use {string.Join(", ", s_powerActions.Keys)}.");
            }

            var power = RequirePower(http);
            using var doc = await ApiSupport.ReadJsonAsync(request, ct);
            var body = doc.RootElement;
            if (body.ValueKind != JsonValueKind.Object)
            {
                throw ApiSupport.BadRequest("Invalid body", "The body must be {\"select\": {\"ids\": [...], \"under\": \"parent\", \"where\": {...}}} (or \"all\": true).");
            }

            foreach (var p in body.EnumerateObject())
            {
                if (p.Name is not ("select" or "all" or "setCfg" or "callTimeout" or "retries"))
                {
                    throw ApiSupport.BadRequest("Invalid body", $"Unknown key \"{p.Name}\"; use \"select\", \"all\", \"setCfg\", \"callTimeout\" (seconds) and \"retries\".");
                }
            }

            var nodes = SelectPowerNodes(daemon, body);
            var setCfg = OptionalBool(body, "setCfg") ?? (daemon.Options.IsRoot && act.Action != PowerAction.SoftOff);
            if (setCfg)
            {
                RequireCfgOwner(daemon);
            }

            var options = new BulkPowerOptions
            {
                CallTimeout = OptionalNumber(body, "callTimeout", 0.001, 3600) is { } s ? TimeSpan.FromSeconds(s) : null,
                Retries = OptionalNumber(body, "retries", 0, 100) is { } r ? (int)r : null,
            };
            if (setCfg)
            {
                // The operator's intent becomes Cfg first, so the engine works towards it instead of undoing it.
                SetPhysState(daemon, nodes, act.Cfg);
                await daemon.CommitAsync(ct);
            }

            var op = power.Operations!.Start(power.Module!, action, act.Action, nodes, setCfg, options)
                ?? throw new ApiProblemException(StatusCodes.Status429TooManyRequests, "Too many power operations", $"{power.Settings!.MaxRunningOperations} bulk power operations are running (Modules:Power:MaxRunningOperations); retry when one has finished.");
            var location = $"{Prefix}/power/operations/{op.Id}";
            http.Response.Headers.Location = location;
            return ApiSupport.Json(w => WriteOperation(w, op.Snapshot(), null), StatusCodes.Status202Accepted);
        }).Doc("PowerAction", "Start a bulk power action (on, off, cycle, reset, soft) on a selection: {\"select\": {...}} or {\"all\": true}, optional \"setCfg\", \"callTimeout\" (s), \"retries\". Answers 202 with the operation and its Location.")
          .Accepts<PowerActionRequest>(ApiSupport.JsonContentType).Produces<PowerOperationAnswer>(StatusCodes.Status202Accepted).Problems(400, 404, 409, 429, 503)
          .Parameter(new ParameterSchemaMetadata("action", null, [.. s_powerActions.Keys]));

        reads.MapGet("/power/operations", (HttpContext http) =>
        {
            var power = RequirePower(http);
            var ops = power.Operations!.List();
            return ApiSupport.Json(w =>
            {
                w.WriteStartObject();
                w.WriteStartArray("operations");
                foreach (var op in ops)
                {
                    WriteOperation(w, op.Snapshot(), null);
                }

                w.WriteEndArray();
                w.WriteEndObject();
            });
        }).Doc("ListPowerOperations", "Bulk power operations, newest first: progress and counts (ok, failed, timed out).")
          .Produces<PowerOperationList>().Problems(409);

        reads.MapGet("/power/operations/{id}", (string id, HttpContext http, KrakenDaemon daemon) =>
        {
            var op = RequireOperation(http, id);
            return ApiSupport.Json(w => WriteOperation(w, op.Snapshot(), daemon.Store));
        }).Doc("GetPowerOperation", "One bulk power operation: progress, counts, failure reasons and one result per node (pending ones have outcome \"pending\").")
          .Produces<PowerOperationAnswer>().Problems(404, 409);

        writes.MapDelete("/power/operations/{id}", (string id, HttpContext http) =>
        {
            var op = RequireOperation(http, id);
            op.Cancel();
            return ApiSupport.Json(w => WriteOperation(w, op.Snapshot(), null));
        }).Doc("CancelPowerOperation", "Cancel a running bulk power operation: calls not yet made are dropped, nodes still pending end as failed (\"cancelled\").")
          .Produces<PowerOperationAnswer>().Problems(404, 409);

        // "= null" on the query parameters: the request delegate generator counts an array parameter as optional
        // only when it has a default, and the OpenAPI document says "required" for the others.
        // Behind the token although it changes nothing: each request makes a call to every selected BMC, so an open
        // status read would let anyone drive the management network. Dsc /PhysState (the last reading) stays open.
        writes.MapGet("/power/status", async (HttpContext http, KrakenDaemon daemon, CancellationToken ct, [Microsoft.AspNetCore.Mvc.FromQuery(Name = "id")] string[]? id = null, string? under = null, [Microsoft.AspNetCore.Mvc.FromQuery(Name = "where")] string[]? where = null, bool? all = null) =>
        {
            var power = RequirePower(http);
            var selection = Selection.FromQuery(daemon.Store.Schema, id ?? [], under, where ?? []);
            var nodes = Resolve(daemon, selection, all == true);
            // A read: asks the BMCs, writes nothing (not even Dsc), so it is safe to repeat.
            var summary = await power.Module!.RunBulkAsync(nodes, PowerAction.Status, new BulkPowerOptions { ReportDiscoveries = false }, ct);
            return ApiSupport.Json(w =>
            {
                w.WriteStartObject();
                w.WriteNumber("requested", summary.Requested);
                w.WriteNumber("ok", summary.Ok);
                w.WriteNumber("failed", summary.Failed);
                w.WriteNumber("timedOut", summary.TimedOut);
                w.WriteNumber("elapsedSeconds", Math.Round(summary.Elapsed.TotalSeconds, 3));
                WriteReasons(w, summary.FailureReasons());
                w.WriteStartArray("results");
                foreach (var r in summary.Results)
                {
                    WriteResult(w, r, r.Node, daemon.Store, withDsc: true);
                }

                w.WriteEndArray();
                w.WriteEndObject();
            });
        }).Doc("PowerStatus", "Ask the BMCs for the power state of a selection (id, under, where as for ListNodes; all=true for every node); changes nothing, but needs the token since it calls every BMC selected. The last reading is Dsc /PhysState, open to all.")
          .Produces<PowerStatusAnswer>().Problems(400, 409).Parameter(ParameterSchemaMetadata.NodeId).Parameter(Under);
    }

    private static PowerDaemonModule RequirePower(HttpContext http)
    {
        var power = http.RequestServices.GetServices<Modules.IDaemonModule>().OfType<PowerDaemonModule>().FirstOrDefault();
        return power?.Module is not null && power.Operations is not null
            ? power
            : throw new ApiProblemException(StatusCodes.Status409Conflict, "Power control is off", "This daemon runs no power module: the section Modules:Power is absent or has Enabled: false.");
    }

    private static PowerBulkOperation RequireOperation(HttpContext http, string id) =>
        RequirePower(http).Operations!.Get(id)
        ?? throw new ApiProblemException(StatusCodes.Status404NotFound, "No such power operation", $"No power operation '{id}' (finished operations are kept for Modules:Power:OperationHistory, and none survive a restart).");

    /// <summary>The body's selection as node ids in id order; ids that name no node are kept (they fail with a reason).</summary>
    private static List<NodeId> SelectPowerNodes(KrakenDaemon daemon, JsonElement body)
    {
        var selection = body.TryGetProperty("select", out var select) ? Selection.FromJson(daemon.Store.Schema, select) : new Selection();
        return Resolve(daemon, selection, OptionalBool(body, "all") == true);
    }

    private static List<NodeId> Resolve(KrakenDaemon daemon, Selection selection, bool all)
    {
        if (selection.IsEmpty && !all)
        {
            throw ApiSupport.BadRequest("Empty selection", "The selection names no ids, parent or conditions; add \"all\": true (all=true) to act on every node.");
        }

        // "all" means every node with power settings; a selection that names nodes reports those without them.
        var nodes = selection.Apply(daemon.Store, StateView.Cfg)
            .Where(r => !selection.IsEmpty || PowerTarget.FromRecord(r) is not null)
            .Select(r => r.Id)
            .ToList();
        if (selection.Ids is { } ids && selection.Under is null && selection.Where.Count == 0)
        {
            // Named nodes that do not exist are reported per node ("no node ..."), not silently skipped.
            nodes.AddRange(ids.Where(i => !daemon.Store.Contains(i)).Order());
        }

        return nodes.Count > 0
            ? nodes
            : throw ApiSupport.BadRequest("Empty selection", "No node matches the selection.");
    }

    /// <summary>Sets Cfg /PhysState on the selected nodes that have power settings (the others fail in the summary and keep their Cfg).</summary>
    private static void SetPhysState(KrakenDaemon daemon, List<NodeId> nodes, string value)
    {
        var url = daemon.Store.Schema.PhysState;
        var values = new[] { new KeyValuePair<StateUrl, StateValue>(url, NodeEditor.Parse(url, value)) };
        daemon.Store.Batch(s =>
        {
            foreach (var id in nodes)
            {
                if (s.Get(StateView.Cfg, id) is { } cfg && PowerTarget.FromRecord(cfg) is not null)
                {
                    s.Update(StateView.Cfg, id, values);
                }
            }
        });
    }

    private static bool? OptionalBool(JsonElement body, string name) =>
        !body.TryGetProperty(name, out var v) || v.ValueKind == JsonValueKind.Null ? null
        : v.ValueKind is JsonValueKind.True or JsonValueKind.False ? v.GetBoolean()
        : throw ApiSupport.BadRequest("Invalid body", $"\"{name}\" must be true or false.");

    private static double? OptionalNumber(JsonElement body, string name, double min, double max) =>
        !body.TryGetProperty(name, out var v) || v.ValueKind == JsonValueKind.Null ? null
        : v.ValueKind == JsonValueKind.Number && v.TryGetDouble(out var d) && d >= min && d <= max ? d
        : throw ApiSupport.BadRequest("Invalid body", $"\"{name}\" must be a number from {min.ToString(CultureInfo.InvariantCulture)} to {max.ToString(CultureInfo.InvariantCulture)}.");

    /// <summary>An operation; with <paramref name="store"/>, its per-node results too (names from Cfg).</summary>
    private static void WriteOperation(Utf8JsonWriter w, PowerOperationSnapshot s, StateStore? store)
    {
        var op = s.Operation;
        w.WriteStartObject();
        w.WriteString("id", op.Id);
        w.WriteString("action", op.Action);
        w.WriteString("state", s.State switch { PowerOperationState.Running => "running", PowerOperationState.Cancelled => "cancelled", _ => "done" });
        w.WriteBoolean("setCfg", op.SetCfg);
        w.WriteNumber("requested", op.Requested);
        w.WriteNumber("done", s.Done);
        w.WriteNumber("pending", s.Pending);
        w.WriteNumber("ok", s.Ok);
        w.WriteNumber("failed", s.Failed);
        w.WriteNumber("timedOut", s.TimedOut);
        w.WriteString("started", Timestamp(op.Started));
        if (s.Finished is { } finished)
        {
            w.WriteString("finished", Timestamp(finished));
        }
        else
        {
            w.WriteNull("finished");
        }

        w.WriteNumber("elapsedSeconds", Math.Round(s.Elapsed.TotalSeconds, 3));
        w.WriteString("location", $"{Prefix}/power/operations/{op.Id}");
        WriteReasons(w, s.FailureReasons());
        if (store is not null)
        {
            w.WriteStartArray("results");
            for (var i = 0; i < s.Results.Count; i++)
            {
                WriteResult(w, s.Results[i], op.Nodes[i], store, withDsc: false);
            }

            w.WriteEndArray();
        }

        w.WriteEndObject();
    }

    private static void WriteReasons(Utf8JsonWriter w, IReadOnlyList<(string Reason, int Count)> reasons)
    {
        w.WriteStartArray("failureReasons");
        foreach (var (reason, count) in reasons)
        {
            w.WriteStartObject();
            w.WriteString("reason", reason);
            w.WriteNumber("count", count);
            w.WriteEndObject();
        }

        w.WriteEndArray();
    }

    private static string Timestamp(DateTimeOffset t) => t.UtcDateTime.ToString("yyyy-MM-dd'T'HH:mm:ss.fff'Z'", CultureInfo.InvariantCulture);

    private static void WriteResult(Utf8JsonWriter w, BulkNodeResult? r, NodeId node, StateStore store, bool withDsc)
    {
        w.WriteStartObject();
        w.WriteString("node", node.ToString());
        var nodename = store.Get(StateView.Cfg, node)?.Nodename;
        if (r is null)
        {
            w.WriteString("name", nodename);
            w.WriteString("outcome", "pending");
            w.WriteEndObject();
            return;
        }

        // The module names a node it could not read by its id; Cfg may know it better.
        w.WriteString("name", nodename ?? r.Name);
        w.WriteString("outcome", r.Outcome switch { BulkOutcome.Ok => "ok", BulkOutcome.TimedOut => "timedOut", _ => "failed" });
        w.WriteString("status", r.Status switch { PowerStatus.On => "on", PowerStatus.Off => "off", _ => "unknown" });
        if (withDsc)
        {
            ApiSupport.WriteValue(w, "dsc", store.Get(StateView.Dsc, node) is { } dsc ? store.Schema.PhysState.Get(dsc) : StateValue.None);
        }

        if (r.Reason is not null)
        {
            w.WriteString("reason", r.Reason);
        }

        if (r.Error is { } error)
        {
            w.WriteString("error", error.ToString());
        }

        w.WriteNumber("calls", r.Calls);
        w.WriteNumber("durationSeconds", Math.Round(r.Duration.TotalSeconds, 3));
        w.WriteEndObject();
    }
}
