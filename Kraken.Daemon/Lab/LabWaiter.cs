// "lab up --wait": follows the root daemon until every node is RunState SYNC, printing each change, and writes
// when each node reached each boot milestone to DIR/timings.json.
using System.Diagnostics;
using System.Globalization;
using System.Text.Json;
using System.Text.Json.Nodes;
using Kraken.Daemon.Cli;

namespace Kraken.Daemon.Lab;

/// <summary>A node's Dsc states as the root reports them (null: unset).</summary>
internal readonly record struct LabNodeState(string? Phys, string? Pxe, string? Run, string? Attached = null)
{
    public override string ToString() => $"PhysState {Phys ?? "-"}, Pxe {Pxe ?? "-"}, RunState {Run ?? "-"}";

    /// <summary>Every node's Dsc from <c>GET /api/v1/dsc/nodes</c>, by id.</summary>
    public static Dictionary<string, LabNodeState> Parse(string nodesJson)
    {
        using var doc = JsonDocument.Parse(nodesJson);
        var result = new Dictionary<string, LabNodeState>(StringComparer.OrdinalIgnoreCase);
        foreach (var n in doc.RootElement.GetProperty("nodes").EnumerateArray())
        {
            string? pxe = null;
            if (n.TryGetProperty("extensions", out var ext) && ext.TryGetProperty("Pxe", out var p) && p.TryGetProperty("state", out var s))
            {
                pxe = s.GetString();
            }

            result[n.GetProperty("id").GetString()!] = new LabNodeState(Text(n, "physState"), pxe, Text(n, "runState"), Text(n, "parentId"));
        }

        return result;
    }

    private static string? Text(JsonElement e, string name) => e.TryGetProperty(name, out var v) && v.ValueKind == JsonValueKind.String ? v.GetString() : null;
}

internal sealed class LabWaiter(LabPlan plan, LabPaths paths, ApiClient client, TextWriter output, Stopwatch clock, TimeSpan timeout, Action<string> noteFile)
{
    /// <summary>The milestones of docs/lab.md: (URL, value) in Dsc, and their key in timings.json.</summary>
    private static readonly (string Url, string Value, string Key)[] s_milestones =
    [
        ("/PhysState", "POWER_ON", "powerOn"),
        ("/Extensions/Pxe/State", "WAIT", "pxeWait"),
        ("/Extensions/Pxe/State", "INIT", "pxeInit"),
        ("/Extensions/Pxe/State", "COMP", "pxeComp"),
        ("/RunState", "INIT", "runInit"),
        ("/RunState", "SYNC", "sync"),
    ];

    private readonly Lock _gate = new();
    private readonly TaskCompletionSource _subscribed = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private readonly Dictionary<string, Dictionary<string, double>> _reached = new(StringComparer.OrdinalIgnoreCase);
    private double? _allSync;

    /// <summary>True once every node is SYNC; false on timeout (after printing what each late node is doing).</summary>
    public async Task<bool> RunAsync(CancellationToken ct)
    {
        using var stop = CancellationTokenSource.CreateLinkedTokenSource(ct);
        var events = FollowEventsAsync(stop.Token);
        try
        {
            // Subscribed before the first poll, the stream sees every change from then on (a poll only every second).
            await Task.WhenAny(_subscribed.Task, Task.Delay(TimeSpan.FromSeconds(3), ct));
            var last = new Dictionary<string, LabNodeState>(StringComparer.OrdinalIgnoreCase);
            while (true)
            {
                var states = await PollAsync(ct);
                var now = clock.Elapsed.TotalSeconds;
                var sync = 0;
                foreach (var node in plan.Nodes)
                {
                    var state = states?.GetValueOrDefault(node.Id) ?? last.GetValueOrDefault(node.Id);
                    if (node.Tier == LabTier.Root && states is not null && state.Run is null)
                    {
                        // The root has no parent to sync with: it is SYNC while its API answers.
                        state = state with { Run = "SYNC" };
                    }

                    Reached(node.Id, state, now);
                    sync += state.Run == "SYNC" ? 1 : 0;
                    if (states is not null && last.GetValueOrDefault(node.Id) != state)
                    {
                        last[node.Id] = state;
                        await output.WriteLineAsync(string.Create(CultureInfo.InvariantCulture, $"lab: {now,7:0.0} s  {node.Name,-7} {state}"));
                    }
                }

                if (sync == plan.Nodes.Count)
                {
                    _allSync = now;
                    WriteTimings();
                    await output.WriteLineAsync(string.Create(CultureInfo.InvariantCulture, $"lab: {plan.Nodes.Count} nodes SYNC in {now:0.0} s"));
                    await output.FlushAsync(ct);
                    return true;
                }

                await output.FlushAsync(ct);
                if (clock.Elapsed >= timeout)
                {
                    WriteTimings();
                    await ReportAsync(last, sync, ct);
                    return false;
                }

                await Task.Delay(TimeSpan.FromSeconds(1), ct);
            }
        }
        finally
        {
            await stop.CancelAsync();
            try
            {
                await events;
            }
            catch (OperationCanceledException)
            {
                // Stopped with the wait.
            }
        }
    }

    private async Task<Dictionary<string, LabNodeState>?> PollAsync(CancellationToken ct)
    {
        try
        {
            return LabNodeState.Parse(await client.GetAsync("/api/v1/dsc/nodes", ct));
        }
        catch (CliException e)
        {
            await output.WriteLineAsync(string.Create(CultureInfo.InvariantCulture, $"lab: {clock.Elapsed.TotalSeconds,7:0.0} s  root API: {e.Message}"));
            return null;
        }
    }

    /// <summary>Follows the root's event stream (more precise than polling) and records milestones as they happen.</summary>
    private async Task FollowEventsAsync(CancellationToken ct)
    {
        while (!ct.IsCancellationRequested)
        {
            try
            {
                using var response = await client.OpenStreamAsync("/api/v1/events?type=state&view=dsc", ct);
                using var reader = new StreamReader(await response.Content.ReadAsStreamAsync(ct));
                _subscribed.TrySetResult();
                while (await reader.ReadLineAsync(ct) is { } line)
                {
                    if (line.StartsWith("data: ", StringComparison.Ordinal))
                    {
                        OnEvent(line[6..], clock.Elapsed.TotalSeconds);
                    }
                }
            }
            catch (Exception e) when (e is CliException or IOException or HttpRequestException or JsonException)
            {
                // The stream broke (or overflowed): polling still runs; reconnect shortly.
            }

            await Task.Delay(TimeSpan.FromSeconds(1), ct);
        }
    }

    private void OnEvent(string data, double at)
    {
        using var doc = JsonDocument.Parse(data);
        var e = doc.RootElement;
        if (e.TryGetProperty("node", out var node) && e.TryGetProperty("url", out var url) && e.TryGetProperty("new", out var value)
            && value.ValueKind == JsonValueKind.String)
        {
            Reached(node.GetString()!, url.GetString()!, value.GetString()!, at);
        }
    }

    private void Reached(string node, LabNodeState state, double at)
    {
        Reached(node, "/PhysState", state.Phys, at);
        Reached(node, "/Extensions/Pxe/State", state.Pxe, at);
        Reached(node, "/RunState", state.Run, at);
    }

    /// <summary>Keeps the earliest time a node was seen with a milestone value (the event stream usually wins).</summary>
    private void Reached(string node, string url, string? value, double at)
    {
        foreach (var (u, v, key) in s_milestones)
        {
            if (u == url && v == value)
            {
                lock (_gate)
                {
                    if (!_reached.TryGetValue(node, out var times))
                    {
                        _reached[node] = times = [];
                    }

                    if (!times.TryGetValue(key, out var earlier) || at < earlier)
                    {
                        times[key] = Math.Round(at, 2);
                    }
                }
            }
        }
    }

    private void WriteTimings()
    {
        var nodes = new JsonArray();
        lock (_gate)
        {
            foreach (var n in plan.Nodes)
            {
                var o = new JsonObject { ["id"] = n.Id, ["name"] = n.Name, ["tier"] = (int)n.Tier };
                foreach (var (_, _, key) in s_milestones)
                {
                    o[key] = _reached.TryGetValue(n.Id, out var t) && t.TryGetValue(key, out var s) ? s : null;
                }

                nodes.Add((JsonNode)o);
            }
        }

        var json = new JsonObject
        {
            ["lab"] = plan.Name,
            ["started"] = (DateTime.UtcNow - clock.Elapsed).ToString("o", CultureInfo.InvariantCulture),
            ["unit"] = "seconds after lab up started",
            ["allSync"] = _allSync is { } a ? Math.Round(a, 2) : null,
            ["nodes"] = nodes,
        };
        noteFile(paths.Timings);
        File.WriteAllText(paths.Timings, json.ToJsonString(new JsonSerializerOptions { WriteIndented = true }) + "\n");
    }

    private async Task ReportAsync(Dictionary<string, LabNodeState> last, int sync, CancellationToken ct)
    {
        await output.WriteLineAsync(string.Create(CultureInfo.InvariantCulture,
            $"lab: timed out after {timeout.TotalSeconds:0} s with {sync} of {plan.Nodes.Count} nodes SYNC; the others:"));
        foreach (var node in plan.Nodes.Where(n => last.GetValueOrDefault(n.Id).Run != "SYNC"))
        {
            await output.WriteLineAsync($"  {node.Name} {node.Id}: Dsc {last.GetValueOrDefault(node.Id)}");
            try
            {
                using var doc = JsonDocument.Parse(await client.GetAsync($"/api/v1/nodes/{node.Id}/plan", ct));
                var r = doc.RootElement;
                await output.WriteLineAsync($"    engine at the root: {Str(r, "status")}, step {Str(r, "step")}, attempts {Str(r, "attempts")}, last failure: {Str(r, "lastFailure")}");
                if (r.TryGetProperty("plan", out var p) && p.ValueKind == JsonValueKind.Object)
                {
                    var steps = p.TryGetProperty("steps", out var s) ? string.Join(", ", s.EnumerateArray().Select(x => Str(x, "mutation"))) : "";
                    await output.WriteLineAsync($"    plan {Str(p, "status")}: {Str(p, "start")} -> {Str(p, "goal")}{(steps.Length > 0 ? ": " + steps : string.Empty)}{(p.TryGetProperty("reason", out var why) && why.ValueKind == JsonValueKind.String ? " (" + why.GetString() + ")" : string.Empty)}");
                }
            }
            catch (CliException e)
            {
                await output.WriteLineAsync($"    plan: {e.Message}");
            }
        }

        await output.FlushAsync(ct);
    }

    private static string Str(JsonElement e, string name) =>
        e.TryGetProperty(name, out var v) ? v.ValueKind switch
        {
            JsonValueKind.String => v.GetString()!,
            JsonValueKind.Null => "-",
            _ => v.GetRawText(),
        } : "-";
}
