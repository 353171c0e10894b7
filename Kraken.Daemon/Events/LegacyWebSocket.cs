// The original Kraken's websocket protocol on /ws, for kraken-dashboard: subscribe by event type, flat messages.
using System.Net.WebSockets;
using System.Text;
using System.Text.Json;
using Kraken.Tree.State;
using Microsoft.AspNetCore.Http;

namespace Kraken.Daemon.Events;

/// <summary>
/// Clients send <c>{"command": 0|1, "type": "STATE_CHANGE"}</c> (0 or "SUBSCRIBE" subscribes, 1 or
/// "UNSUBSCRIBE" unsubscribes; types STATE_CHANGE, STATE_MUTATION, DISCOVERY, ALL) and receive, for subscribed
/// types only, <c>{"type": n, "url", "data", "nodeid", "value"}</c> with the original's type numbers:
/// STATE_CHANGE 1 (every Cfg and Dsc change; value: the new value), STATE_MUTATION 2 (dispatches and
/// interrupts; value: the mutation id), DISCOVERY 5 (Dsc changes; value: the new value). Nothing is sent before
/// a subscription. Unlike the original, a string command means what it says.
/// </summary>
internal static class LegacyWebSocket
{
    private const int StateChange = 1;
    private const int StateMutation = 2;
    private const int Discovery = 5;
    private const string Transport = "WebSocket /ws";

    public static async Task RunAsync(HttpContext http, EventHub hub)
    {
        using var socket = await http.WebSockets.AcceptWebSocketAsync();
        using var subscription = hub.Subscribe(new EventFilter(new HashSet<NodeId>(), null, States: true, Mutations: true, View: null));
        var subscribed = new bool[7];
        var abort = http.RequestAborted;
        using var done = CancellationTokenSource.CreateLinkedTokenSource(abort);
        var receive = ReceiveAsync(http, hub, socket, subscribed, done);

        // A client that falls behind is disconnected, as with the original's 50-message buffer; one that stops
        // reading, at the write deadline.
        var end = await hub.PumpAsync(http, subscription, Transport, async (e, ct) =>
        {
            foreach (var message in Translate(e, subscribed))
            {
                await socket.SendAsync(Encoding.UTF8.GetBytes(message), WebSocketMessageType.Text, endOfMessage: true, ct);
            }
        }, notifyOverflow: false, done.Token);

        await done.CancelAsync();
        await receive;
        if (end is PumpEnd.Completed or PumpEnd.Overflow && !abort.IsCancellationRequested)
        {
            await hub.CloseAsync(http, socket, end == PumpEnd.Overflow ? "overflow" : "closing", Transport);
        }
    }

    /// <summary>Reads the client's commands until it closes; a client that vanishes ends the stream with one Debug line.</summary>
    private static async Task ReceiveAsync(HttpContext http, EventHub hub, WebSocket socket, bool[] subscribed, CancellationTokenSource done)
    {
        var buffer = new byte[4096];
        try
        {
            while (!done.IsCancellationRequested)
            {
                var result = await socket.ReceiveAsync(buffer, done.Token);
                if (result.MessageType == WebSocketMessageType.Close)
                {
                    break;
                }

                Apply(Encoding.UTF8.GetString(buffer, 0, result.Count), subscribed);
            }
        }
        catch (OperationCanceledException) when (done.IsCancellationRequested)
        {
            // The stream ended on the sending side.
            return;
        }
        catch (Exception ex) when (EventHub.IsClientGone(ex))
        {
            hub.LogClientLeft(http, Transport, ex);
        }

        await done.CancelAsync();
    }

    /// <summary>Applies one client command; anything unparsable is ignored, as the original did.</summary>
    internal static void Apply(string text, bool[] subscribed)
    {
        try
        {
            using var doc = JsonDocument.Parse(text);
            var root = doc.RootElement;
            var command = root.TryGetProperty("command", out var c) ? c : default;
            var subscribe = command.ValueKind switch
            {
                JsonValueKind.Number => command.GetInt32() == 0,
                JsonValueKind.String => command.GetString() != "UNSUBSCRIBE",
                _ => true,
            };
            var type = root.TryGetProperty("type", out var t) && t.ValueKind == JsonValueKind.String ? t.GetString() : null;
            int[] types = type switch
            {
                "STATE_CHANGE" => [StateChange],
                "STATE_MUTATION" => [StateMutation],
                "DISCOVERY" => [Discovery],
                "ALL" => [StateChange, StateMutation, Discovery],
                _ => [],
            };
            foreach (var n in types)
            {
                Volatile.Write(ref subscribed[n], subscribe);
            }
        }
        catch (JsonException)
        {
            // Not a command.
        }
    }

    /// <summary>The original's messages for one of our events, for the types the client subscribed to.</summary>
    internal static IEnumerable<string> Translate(DaemonEvent e, bool[] subscribed)
    {
        using var doc = JsonDocument.Parse(e.Json);
        var r = doc.RootElement;
        var node = r.GetProperty("node").GetString()!;
        var messages = new List<string>();
        if (e.Type == "mutation")
        {
            var kind = r.GetProperty("kind").GetString();
            if (Volatile.Read(ref subscribed[StateMutation]) && kind is "Dispatched" or "Interrupted")
            {
                var mutation = r.GetProperty("mutation").GetString()!;
                var verb = kind == "Dispatched" ? "MUTATE" : "INTERRUPT";
                messages.Add(Message(StateMutation, node, $"({verb}) {node}: {mutation}", node, mutation));
            }

            return messages;
        }

        if (e.Type != "state")
        {
            return messages;
        }

        var view = r.GetProperty("view").GetString();
        var url = r.TryGetProperty("url", out var u) ? u.GetString()! : string.Empty;
        var value = r.TryGetProperty("new", out var v) && v.ValueKind == JsonValueKind.String ? v.GetString()! : string.Empty;
        var kindName = r.GetProperty("kind").GetString() switch
        {
            "Created" => "CREATE",
            "Deleted" => "DELETE",
            _ => view == "cfg" ? "CFG_UPDATE" : "UPDATE",
        };
        if (Volatile.Read(ref subscribed[StateChange]))
        {
            messages.Add(Message(StateChange, url, $"({kindName}) {node}:{url} = {value}", node, value));
        }

        if (Volatile.Read(ref subscribed[Discovery]) && view == "dsc" && url.Length > 0)
        {
            messages.Add(Message(Discovery, url, $"{node}:{url} = {value}", node, value));
        }

        return messages;
    }

    /// <summary>The original's flat message; the writer's default encoder escapes as JsonSerializer's defaults do.</summary>
    private static string Message(int type, string url, string data, string node, string value)
    {
        var buffer = new System.Buffers.ArrayBufferWriter<byte>();
        using (var w = new Utf8JsonWriter(buffer))
        {
            w.WriteStartObject();
            w.WriteNumber("type", type);
            w.WriteString("url", url);
            w.WriteString("data", data);
            w.WriteString("nodeid", node);
            w.WriteString("value", value);
            w.WriteEndObject();
        }

        return Encoding.UTF8.GetString(buffer.WrittenSpan);
    }
}
