// The event stream over Server-Sent Events (/api/v1/events) and WebSocket (/api/v1/events/ws).
using System.Net.WebSockets;
using System.Text;
using Kraken.Daemon.Api;
using Kraken.Tree.State;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Routing;

namespace Kraken.Daemon.Events;

internal static class EventEndpoints
{
    public static void Map(RouteGroupBuilder v1)
    {
        // "= null" on the query parameters: the request delegate generator counts an array parameter as optional
        // only when it has a default, and the OpenAPI document says "required" for the others.
        v1.MapGet("/events", async (HttpContext http, EventHub hub, [Microsoft.AspNetCore.Mvc.FromQuery(Name = "node")] string[]? node = null, string? url = null, [Microsoft.AspNetCore.Mvc.FromQuery(Name = "type")] string[]? type = null, string? view = null, [Microsoft.AspNetCore.Mvc.FromHeader(Name = "Last-Event-ID")] string? lastEventId = null) =>
        {
            var filter = ParseFilter(node, url, type, view);
            using var subscription = hub.Subscribe(filter, string.IsNullOrEmpty(lastEventId) ? null : lastEventId);
            var response = http.Response;
            response.ContentType = "text/event-stream";
            response.Headers.CacheControl = "no-cache";
            response.Headers["X-Accel-Buffering"] = "no";

            // A comment first (the client knows it is subscribed before it acts), then what a reconnecting client missed.
            await hub.PumpAsync(http, subscription, "SSE", async (e, ct) =>
            {
                await response.WriteAsync(Frame(e), ct);
                await response.Body.FlushAsync(ct);
            }, notifyOverflow: true, http.RequestAborted, opening: true);
            return Results.Empty;
        }).WithName("Events").WithSummary("Server-Sent Events of state changes and mutation events; filters: node (repeated), url (prefix), type (state|mutation), view (cfg|dsc). Every event has an id; a client reconnecting with Last-Event-ID gets the events it missed from the last Api:EventReplay, or an event \"reset\" when some are gone.")
          .Produces<string>(StatusCodes.Status200OK, "text/event-stream").ProducesProblem(StatusCodes.Status400BadRequest)
          .WithMetadata(s_nodes, s_types, ParameterSchemaMetadata.View);

        v1.MapGet("/events/ws", async (HttpContext http, EventHub hub, [Microsoft.AspNetCore.Mvc.FromQuery(Name = "node")] string[]? node = null, string? url = null, [Microsoft.AspNetCore.Mvc.FromQuery(Name = "type")] string[]? type = null, string? view = null) =>
        {
            if (!http.WebSockets.IsWebSocketRequest)
            {
                throw ApiSupport.BadRequest("Not a WebSocket request", "Connect with a WebSocket client (Upgrade: websocket), or use /api/v1/events for Server-Sent Events.");
            }

            var filter = ParseFilter(node, url, type, view);
            using var subscription = hub.Subscribe(filter);
            using var socket = await http.WebSockets.AcceptWebSocketAsync();
            var end = await hub.PumpAsync(http, subscription, "WebSocket", (e, ct) =>
                socket.SendAsync(Encoding.UTF8.GetBytes(e.Json), WebSocketMessageType.Text, endOfMessage: true, ct), notifyOverflow: true, http.RequestAborted);
            if (end is PumpEnd.Completed or PumpEnd.Overflow)
            {
                await hub.CloseAsync(http, socket, end == PumpEnd.Overflow ? "overflow: the client fell behind" : "server closing", "WebSocket");
            }

            return Results.Empty;
        }).WithName("EventsWebSocket").WithSummary("The same events as /events, one JSON text message each, over a WebSocket.")
          .Produces(StatusCodes.Status101SwitchingProtocols).ProducesProblem(StatusCodes.Status400BadRequest)
          .WithMetadata(s_nodes, s_types, ParameterSchemaMetadata.View);
    }

    /// <summary>
    /// One event as SSE: <c>event</c>, <c>data</c> and <c>id</c> (the "subscribed" opening is a comment, with the id of
    /// the position a new client starts at).
    /// </summary>
    internal static string Frame(DaemonEvent e) => (e.Type, e.Id) switch
    {
        ("subscribed", null) => ": subscribed\n\n",
        ("subscribed", { } id) => $": subscribed\nid: {id}\n\n",
        (_, null) => $"event: {e.Type}\ndata: {e.Json}\n\n",
        (_, { } id) => $"event: {e.Type}\ndata: {e.Json}\nid: {id}\n\n",
    };

    private static readonly ParameterSchemaMetadata s_nodes = new("node", "uuid");
    private static readonly ParameterSchemaMetadata s_types = new("type", null, "state", "mutation");

    private static EventFilter ParseFilter(string[]? nodes, string? url, string[]? types, string? view)
    {
        var ids = (nodes ?? []).SelectMany(n => n.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries))
            .Select(n => ApiSupport.ParseId(n, "node")).ToHashSet();
        var t = (types ?? []).SelectMany(x => x.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries)).ToList();
        foreach (var x in t)
        {
            if (x is not ("state" or "mutation"))
            {
                throw ApiSupport.BadRequest("Invalid event type", $"'{x}' is not an event type; use state or mutation.");
            }
        }

        if (url is not null && !url.StartsWith('/'))
        {
            throw ApiSupport.BadRequest("Invalid URL prefix", $"The URL prefix '{url}' must start with '/'.");
        }

        StateView? v = view is null ? null : ApiSupport.ParseView(view);
        return new EventFilter(ids, url, t.Count == 0 || t.Contains("state"), t.Count == 0 || t.Contains("mutation"), v);
    }
}
