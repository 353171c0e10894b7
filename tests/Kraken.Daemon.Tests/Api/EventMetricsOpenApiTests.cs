// The event stream (SSE and WebSocket, with filters), /metrics, and the OpenAPI document.
using System.Diagnostics.Metrics;
using System.Net;
using System.Net.WebSockets;
using System.Text;
using System.Text.Json;
using Kraken.Daemon.Events;
using Microsoft.AspNetCore.Routing;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.OpenApi;
using Microsoft.OpenApi.Reader;

namespace Kraken.Daemon.Tests.Api;

[Trait("Category", "Network")]
public sealed class EventMetricsOpenApiTests : RootDaemonTestBase
{
    private Task Patch(string node, string json) =>
        D.Authorized.PatchAsync($"/api/v1/cfg/nodes/{node}", new StringContent(json, Encoding.UTF8, "application/json"));

    [Fact]
    public async Task Sse_delivers_filtered_state_changes_and_mutation_events()
    {
        using var cts = new CancellationTokenSource(TimeSpan.FromSeconds(20));
        using var response = await D.Http.GetAsync($"/api/v1/events?node={TestDaemon.T1a}&url=/PhysState", HttpCompletionOption.ResponseHeadersRead, cts.Token);
        Assert.Equal("text/event-stream", response.Content.Headers.ContentType?.MediaType);
        using var reader = new StreamReader(await response.Content.ReadAsStreamAsync(cts.Token));
        Assert.Equal(": subscribed", await reader.ReadLineAsync(cts.Token));

        await Patch(TestDaemon.N101, """{"/PhysState": "POWER_ON"}""");
        await Patch(TestDaemon.T1a, """{"/Arch": "arm64"}""");
        await Patch(TestDaemon.T1a, """{"/PhysState": "POWER_ON"}""");
        await D.Daemon.SetFrozenAsync(false);

        // The first matching event is t1a's Cfg PhysState; the module then turns it on: dispatches and Dsc follow.
        var events = new List<(string Type, JsonElement Data)>();
        string? type = null;
        while (!events.Any(e => e.Type == "state" && e.Data.GetProperty("view").GetString() == "dsc" && e.Data.GetProperty("new").GetString() == "POWER_ON"))
        {
            var line = await reader.ReadLineAsync(cts.Token);
            if (line!.StartsWith("event: ", StringComparison.Ordinal))
            {
                type = line[7..];
            }
            else if (line.StartsWith("data: ", StringComparison.Ordinal))
            {
                events.Add((type!, JsonDocument.Parse(line[6..]).RootElement.Clone()));
            }
        }

        var first = events[0].Data;
        Assert.Equal("cfg", first.GetProperty("view").GetString());
        Assert.Equal("/PhysState", first.GetProperty("url").GetString());
        Assert.Equal("POWER_ON", first.GetProperty("new").GetString());
        Assert.All(events, e => Assert.Equal(TestDaemon.T1a, e.Data.GetProperty("node").GetString()));
        Assert.DoesNotContain(events, e => e.Type == "state" && e.Data.GetProperty("url").GetString() != "/PhysState");
        var mutations = events.Where(e => e.Type == "mutation").Select(e => (e.Data.GetProperty("kind").GetString(), e.Data.GetProperty("mutation").GetString())).ToList();
        Assert.Contains(("Dispatched", "UKtoOFF"), mutations);
        Assert.Contains(("Dispatched", "OFFtoON"), mutations);
    }

    [Fact]
    public async Task WebSocket_delivers_events_of_the_requested_type()
    {
        using var ws = new ClientWebSocket();
        using var cts = new CancellationTokenSource(TimeSpan.FromSeconds(20));
        await ws.ConnectAsync(new Uri(D.Url.Replace("http", "ws", StringComparison.Ordinal) + "/api/v1/events/ws?type=state&view=cfg"), cts.Token);
        await ApiTests.Until(() => D.Services.GetRequiredService<EventHub>().ClientCount == 1, "the socket subscribed");
        await Patch(TestDaemon.N101, """{"/Platform": "vm"}""");
        var buffer = new byte[4096];
        var result = await ws.ReceiveAsync(buffer, cts.Token);
        var e = JsonDocument.Parse(Encoding.UTF8.GetString(buffer, 0, result.Count)).RootElement;
        Assert.Equal("state", e.GetProperty("type").GetString());
        Assert.Equal("/Platform", e.GetProperty("url").GetString());
        Assert.Equal("vm", e.GetProperty("new").GetString());

        var bad = await D.Http.GetAsync("/api/v1/events?type=everything");
        Assert.Equal(HttpStatusCode.BadRequest, bad.StatusCode);
        Assert.Equal(HttpStatusCode.BadRequest, (await D.Http.GetAsync("/api/v1/events/ws")).StatusCode);
    }

    [Fact]
    public async Task A_client_that_falls_behind_is_cut_off_with_an_overflow()
    {
        var hub = D.Services.GetRequiredService<EventHub>();
        using var sub = hub.Subscribe(new EventFilter(new HashSet<Kraken.Tree.State.NodeId>(), null, true, false, null));
        var store = D.Daemon.Store;
        var id = Kraken.Tree.State.NodeId.Parse(TestDaemon.N101, null);
        for (var i = 0; i < D.Daemon.Options.Api.EventBuffer + 10; i++)
        {
            store.Set(Kraken.Tree.State.StateView.Dsc, id, "/Nodename", $"n{i}");
        }

        Assert.True(sub.Overflowed);
        await Assert.ThrowsAsync<System.Threading.Channels.ChannelClosedException>(async () =>
        {
            await foreach (var unused in sub.Reader.ReadAllAsync())
            {
                _ = unused;
            }
        });
    }

    [Fact]
    public async Task Metrics_export_daemon_engine_and_module_meters_in_prometheus_text()
    {
        // Thawed, the root powers on both its children (their goal SYNC needs power) and waits for them to join.
        await Patch(TestDaemon.T1a, """{"/PhysState": "POWER_ON"}""");
        await D.Daemon.SetFrozenAsync(false);
        foreach (var child in new[] { TestDaemon.T1a, "00000000-0000-4000-8000-000000000102" })
        {
            await ApiTests.Until(() => D.Daemon.Store.Get(Kraken.Tree.State.StateView.Dsc, Kraken.Tree.State.NodeId.Parse(child, null))?.PhysState == Kraken.Tree.State.Proto.PhysState.PowerOn, $"{child} on");
        }


        // A module's own meter appears without any daemon change, as long as its name starts with "Kraken.".
        using var meter = new Meter("Kraken.TestModule");
        var counter = meter.CreateCounter<long>("kraken.testmodule.leases", "{lease}", "Leases handed out.");
        counter.Add(3, new KeyValuePair<string, object?>("pool", "a"));
        using var other = new Meter("Other.Library");
        other.CreateCounter<long>("other.things").Add(1);

        var response = await D.Http.GetAsync("/metrics");
        Assert.Equal("text/plain", response.Content.Headers.ContentType?.MediaType);
        var text = await response.Content.ReadAsStringAsync();
        var samples = text.Split('\n').Where(l => l.Length > 0 && l[0] != '#').ToList();
        Assert.All(samples, s => Assert.Matches("^(kraken|process|dotnet|http_server)_", s));
        Assert.Contains("kraken_nodes{run_state=\"SYNC\",view=\"cfg\"} 9", samples);
        Assert.Contains("kraken_nodes_phys{phys_state=\"POWER_ON\",view=\"dsc\"} 3", samples); // the root itself and its two children
        Assert.Contains("kraken_testmodule_leases_total{pool=\"a\"} 3", samples);
        Assert.Contains("# TYPE kraken_reconcile_mutations_dispatched_total counter", text, StringComparison.Ordinal);
        Assert.Contains(samples, s => s.StartsWith("kraken_reconcile_mutations_dispatched_total{module=\"simpower\"}", StringComparison.Ordinal));
        Assert.Contains(samples, s => s.StartsWith("kraken_cfg_transactions_committed_total ", StringComparison.Ordinal) && long.Parse(s.Split(' ')[1], System.Globalization.CultureInfo.InvariantCulture) >= 1);
        Assert.DoesNotContain("other_things", text, StringComparison.Ordinal);
    }

    [Fact]
    public async Task The_openapi_document_is_valid_and_lists_every_endpoint()
    {
        var json = await D.Http.GetStringAsync("/openapi/v1.json");
        var settings = new OpenApiReaderSettings();
        var read = OpenApiDocument.Parse(json, "json", settings);
        Assert.Empty(read.Diagnostic?.Errors ?? []);
        var document = read.Document!;
        Assert.Equal("Kraken daemon API", document.Info.Title);

        var documented = document.Paths.SelectMany(p => p.Value.Operations!.Keys.Select(m => $"{m.Method.ToUpperInvariant()} {p.Key}")).ToHashSet();
        // Every endpoint but those kept out of the document (the reference page's own).
        var endpoints = D.Services.GetRequiredService<EndpointDataSource>().Endpoints.OfType<RouteEndpoint>()
            .Where(e => e.Metadata.GetMetadata<Microsoft.AspNetCore.Routing.IExcludeFromDescriptionMetadata>()?.ExcludeFromDescription != true)
            .SelectMany(e => (e.Metadata.GetMetadata<Microsoft.AspNetCore.Routing.HttpMethodMetadata>()?.HttpMethods ?? []).Select(m => $"{m} /{e.RoutePattern.RawText!.TrimStart('/')}"))
            .Where(e => !e.Contains("/openapi/", StringComparison.Ordinal))
            .Select(e => e.Replace("{**url}", "{url}", StringComparison.Ordinal))
            .ToHashSet();
        Assert.True(endpoints.Count > 40, $"only {endpoints.Count} endpoints");

        // Writes carry the bearer requirement and their 401; reads do not.
        var create = document.Paths["/api/v1/cfg/nodes"].Operations![HttpMethod.Post];
        Assert.NotEmpty(create.Security!);
        Assert.Contains("401", create.Responses!.Keys);
        Assert.Contains("400", create.Responses.Keys);
        var list = document.Paths["/api/v1/{view}/nodes"].Operations![HttpMethod.Get];
        Assert.True(list.Security is null || list.Security.Count == 0);
        Assert.NotEmpty(document.Paths["/sme/freeze"].Operations![HttpMethod.Post].Security!);
        // Filters are optional: no query parameter may be marked required (the request delegate generator marks
        // array parameters without a default as required).
        var requiredQuery = document.Paths.SelectMany(p => p.Value.Operations!.SelectMany(o => (o.Value.Parameters ?? [])
            .Where(q => q.In == ParameterLocation.Query && q.Required).Select(q => $"{o.Key.Method} {p.Key} {q.Name}"))).ToList();
        Assert.True(requiredQuery.Count == 0, "required query parameters: " + string.Join(", ", requiredQuery));
        Assert.Contains(list.Parameters!, q => q.Name == "where" && q.In == ParameterLocation.Query);
        var missing = endpoints.Except(documented).Order().ToList();
        Assert.True(missing.Count == 0, "not in the OpenAPI document: " + string.Join(", ", missing));
    }
}
