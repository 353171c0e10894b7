// The power API on a loopback root: bulk actions on hundreds of nodes, limits, failures with reasons, auth, problems, OpenAPI.
using System.Net;
using System.Text.Json;
using Kraken.Modules.Power;
using Kraken.Tree.State;
using Kraken.Tree.State.Proto;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.OpenApi;
using Microsoft.OpenApi.Reader;
using static Kraken.Daemon.Tests.Power.PowerTestSupport;

namespace Kraken.Daemon.Tests.Power;

[Trait("Category", "Network")]
public sealed class PowerApiTests
{
    private static NodeId Id(int i) => Tree.State.NodeId.Parse(NodeId(i), null);

    [Fact]
    public async Task Bulk_power_on_of_200_nodes_sets_cfg_reports_every_node_and_respects_the_driver_and_bmc_limits()
    {
        var counted = new CountingDriver("counted", TimeSpan.FromMilliseconds(15));
        await using var d = await StartAsync(
            s => s.AddSingleton<IPowerDriver>(counted),
            "--Modules:Power:DriverConcurrency:counted=8",
            "--Modules:Power:BmcConcurrency=1",
            "--Modules:Power:PollInterval=00:00:00");
        // 200 nodes behind 50 BMCs: four nodes share each BMC, which takes one call at a time.
        await CreateNodesAsync(d, Enumerable.Range(1, 200).Select(i => NodeJson(i, $"{{\"driver\":\"counted\",\"address\":\"bmc-{i % 50}\"}}")));

        var (response, started) = await PostAsync(d.Authorized, "/api/v1/power/on", "{\"select\":{\"where\":{\"/Extensions/Power/Driver\":\"counted\"}}}");
        Assert.Equal(HttpStatusCode.Accepted, response.StatusCode);
        var id = started.GetProperty("id").GetString()!;
        Assert.Equal($"/api/v1/power/operations/{id}", response.Headers.Location!.OriginalString);
        Assert.Equal(200, started.GetProperty("requested").GetInt32());
        Assert.True(started.GetProperty("setCfg").GetBoolean());

        var done = await WaitAsync(d, response.Headers.Location.OriginalString);
        Assert.Equal("done", done.GetProperty("state").GetString());
        Assert.Equal(("on", 200, 200, 0, 0, 0), (done.GetProperty("action").GetString(), done.GetProperty("done").GetInt32(), done.GetProperty("ok").GetInt32(), done.GetProperty("failed").GetInt32(), done.GetProperty("timedOut").GetInt32(), done.GetProperty("pending").GetInt32()));
        var results = done.GetProperty("results").EnumerateArray().ToList();
        Assert.Equal(Enumerable.Range(1, 200).Select(NodeId), results.Select(r => r.GetProperty("node").GetString()));
        Assert.All(results, r => Assert.Equal(("ok", "on", 1), (r.GetProperty("outcome").GetString(), r.GetProperty("status").GetString(), r.GetProperty("calls").GetInt32())));
        Assert.Equal("p7", results[6].GetProperty("name").GetString());
        Assert.Empty(done.GetProperty("failureReasons").EnumerateArray());

        // The limits: never more than 8 calls in flight for the driver (and it got there), one per BMC.
        Assert.Equal(8, counted.Peak);
        Assert.Equal(1, counted.PeakPerBmc);
        Assert.All(Enumerable.Range(1, 200), i => Assert.Equal(PowerStatus.On, counted.States[NodeId(i)]));

        // The operator's intent is in Cfg, so the engine keeps the nodes on; Dsc says what the calls found.
        Assert.All(Enumerable.Range(1, 200), i => Assert.Equal(PhysState.PowerOn, d.Daemon.Store.Get(StateView.Cfg, Id(i))!.PhysState));
        Assert.All(Enumerable.Range(1, 200), i => Assert.Equal(PhysState.PowerOn, d.Daemon.Store.Get(StateView.Dsc, Id(i))!.PhysState));

        var list = JsonDocument.Parse(await d.Http.GetStringAsync("/api/v1/power/operations")).RootElement;
        var listed = Assert.Single(list.GetProperty("operations").EnumerateArray());
        Assert.Equal(id, listed.GetProperty("id").GetString());
        Assert.False(listed.TryGetProperty("results", out _));

        // The module's meter is on /metrics, tagged by driver.
        var metrics = await d.Http.GetStringAsync("/metrics");
        Assert.Contains(metrics.Split('\n'), l => l.StartsWith("kraken_power_calls_total{", StringComparison.Ordinal) && l.Contains("\"counted\"", StringComparison.Ordinal));
    }

    [Fact]
    public async Task Failures_and_timeouts_are_reported_per_node_with_reasons_and_status_reads_without_writing()
    {
        await using var d = await StartAsync(
            null,
            "--Modules:Power:Drivers:0=sim",
            "--Modules:Power:Sim:OnDelay=00:00:00.010",
            "--Modules:Power:Sim:FailureRate=0.2",
            "--Modules:Power:Sim:Seed=7",
            "--Modules:Power:CallTimeout=00:00:00.300",
            "--Modules:Power:Retries=0",
            "--Modules:Power:PollInterval=00:00:00");
        var sim = d.Power().Drivers.OfType<SimPowerDriver>().Single();
        await CreateNodesAsync(d, Enumerable.Range(1, 110).Select(i => NodeJson(i, i switch
        {
            <= 105 => $"{{\"driver\":\"sim\",\"address\":\"sim-{i}\"}}",
            <= 108 => $"{{\"driver\":\"nosuch\",\"address\":\"x-{i}\"}}",
            _ => null,
        })));
        foreach (var i in Enumerable.Range(101, 5))
        {
            sim.SetSilent(Id(i), true);
        }

        var ids = string.Join(',', Enumerable.Range(1, 110).Append(999).Select(i => $"\"{NodeId(i)}\""));
        var (response, _) = await PostAsync(d.Authorized, "/api/v1/power/on", $"{{\"select\":{{\"ids\":[{ids}]}},\"setCfg\":false,\"callTimeout\":0.3,\"retries\":0}}");
        Assert.Equal(HttpStatusCode.Accepted, response.StatusCode);
        var done = await WaitAsync(d, response.Headers.Location!.OriginalString);
        Assert.False(done.GetProperty("setCfg").GetBoolean());
        var results = done.GetProperty("results").EnumerateArray().ToDictionary(r => r.GetProperty("node").GetString()!);
        Assert.Equal(111, results.Count);

        string Reason(int i) => results[NodeId(i)].TryGetProperty("reason", out var r) ? r.GetString()! : string.Empty;
        string Outcome(int i) => results[NodeId(i)].GetProperty("outcome").GetString()!;
        Assert.All(Enumerable.Range(101, 5), i => Assert.Equal(("timedOut", "no answer within 0.3 s", "Timeout"), (Outcome(i), Reason(i), results[NodeId(i)].GetProperty("error").GetString())));
        Assert.All(Enumerable.Range(106, 3), i => Assert.Contains("no power driver named 'nosuch'", Reason(i), StringComparison.Ordinal));
        Assert.All(Enumerable.Range(109, 2), i => Assert.Contains("has no /Extensions/Power/Driver", Reason(i), StringComparison.Ordinal));
        Assert.Equal(("failed", $"no node {NodeId(999)}"), (Outcome(999), Reason(999)));

        // The simulated BMCs refuse about one call in five: each refused node says so and stayed off; the rest are on.
        var refused = Enumerable.Range(1, 100).Where(i => Outcome(i) == "failed").ToList();
        Assert.InRange(refused.Count, 5, 40);
        Assert.All(refused, i => Assert.Equal(("simulated BMC refused On", PowerStatus.Off), (Reason(i), sim.GetState(Id(i)))));
        Assert.All(Enumerable.Range(1, 100).Except(refused), i => Assert.Equal(("ok", PowerStatus.On), (Outcome(i), sim.GetState(Id(i)))));
        Assert.Equal((100 - refused.Count, refused.Count + 6, 5), (done.GetProperty("ok").GetInt32(), done.GetProperty("failed").GetInt32(), done.GetProperty("timedOut").GetInt32()));
        var reasons = done.GetProperty("failureReasons").EnumerateArray().ToDictionary(r => r.GetProperty("reason").GetString()!, r => r.GetProperty("count").GetInt32());
        Assert.Equal(refused.Count, reasons["simulated BMC refused On"]);
        Assert.Equal(5, reasons["no answer within 0.3 s"]);

        // setCfg false: Cfg untouched. Dsc has what the calls learnt, and nothing for the failed ones.
        Assert.Null(d.Daemon.Store.Get(StateView.Cfg, Id(1))!.PhysState);
        Assert.Null(d.Daemon.Store.Get(StateView.Dsc, Id(refused[0]))!.PhysState);

        // Status asks the BMCs and changes nothing, not even Dsc.
        var versions = Enumerable.Range(1, 10).Select(i => d.Daemon.Store.Get(StateView.Dsc, Id(i))!.Version).ToList();
        var status = JsonDocument.Parse(await d.Authorized.GetStringAsync($"/api/v1/power/status?id={NodeId(1)},{NodeId(2)},{NodeId(3)},{NodeId(4)},{NodeId(5)},{NodeId(6)},{NodeId(7)},{NodeId(8)},{NodeId(9)},{NodeId(10)}")).RootElement;
        Assert.Equal(10, status.GetProperty("requested").GetInt32());
        foreach (var r in status.GetProperty("results").EnumerateArray())
        {
            var node = Tree.State.NodeId.Parse(r.GetProperty("node").GetString()!, null);
            if (r.GetProperty("outcome").GetString() == "ok")
            {
                Assert.Equal(sim.GetState(node) == PowerStatus.On ? "on" : "off", r.GetProperty("status").GetString());
            }
        }

        Assert.Equal(versions, Enumerable.Range(1, 10).Select(i => d.Daemon.Store.Get(StateView.Dsc, Id(i))!.Version));

        // "all" is every node with power settings: ours (105 sim, 3 with an unknown driver) and the example cluster's
        // qemu nodes (no qemu driver loaded here), not the nodes without settings.
        var powered = d.Daemon.Store.Snapshot(StateView.Cfg).Where(r => PowerTarget.FromRecord(r) is not null).ToList();
        var all = JsonDocument.Parse(await d.Authorized.GetStringAsync("/api/v1/power/status?all=true")).RootElement;
        Assert.Equal(powered.Count, all.GetProperty("requested").GetInt32());
        Assert.Equal(5, all.GetProperty("timedOut").GetInt32());
        var failures = all.GetProperty("results").EnumerateArray().Where(r => r.GetProperty("outcome").GetString() == "failed").Select(r => r.GetProperty("reason").GetString()!).ToList();
        Assert.Equal(powered.Count - 105, failures.Count(f => f.StartsWith("no power driver named", StringComparison.Ordinal)));
        Assert.All(failures, f => Assert.True(f.StartsWith("no power driver named", StringComparison.Ordinal) || f == "simulated BMC refused Status", f));
    }

    [Fact]
    public async Task A_running_operation_can_be_cancelled_and_its_pending_nodes_end_as_cancelled()
    {
        await using var d = await StartAsync(null, "--Modules:Power:Drivers:0=sim", "--Modules:Power:Sim:OnDelay=00:00:00", "--Modules:Power:PollInterval=00:00:00");
        var sim = d.Power().Drivers.OfType<SimPowerDriver>().Single();
        await CreateNodesAsync(d, Enumerable.Range(1, 3).Select(i => NodeJson(i, $"{{\"driver\":\"sim\",\"address\":\"s{i}\"}}")));
        sim.SetSilent(Id(3), true);
        var (response, _) = await PostAsync(d.Authorized, "/api/v1/power/cycle", $"{{\"select\":{{\"ids\":[\"{NodeId(1)}\",\"{NodeId(2)}\",\"{NodeId(3)}\"]}},\"callTimeout\":60,\"setCfg\":false}}");
        var location = response.Headers.Location!.OriginalString;
        var deadline = DateTime.UtcNow.AddSeconds(20);
        while (JsonDocument.Parse(await d.Http.GetStringAsync(location)).RootElement.GetProperty("done").GetInt32() < 2)
        {
            Assert.True(DateTime.UtcNow < deadline);
            await Task.Delay(20);
        }

        Assert.Equal(HttpStatusCode.Unauthorized, (await d.Http.DeleteAsync(location)).StatusCode);
        Assert.Equal(HttpStatusCode.OK, (await d.Authorized.DeleteAsync(location)).StatusCode);
        var done = await WaitAsync(d, location, TimeSpan.FromSeconds(10));
        Assert.Equal(("cancelled", 2, 1), (done.GetProperty("state").GetString(), done.GetProperty("ok").GetInt32(), done.GetProperty("failed").GetInt32()));
        Assert.Equal("cancelled", done.GetProperty("results")[2].GetProperty("reason").GetString());
        Assert.Null(d.Daemon.Store.Get(StateView.Cfg, Id(3))!.PhysState);
        Assert.Equal(PowerStatus.On, sim.GetState(Id(1)));
    }

    [Fact]
    public async Task Writes_need_the_token_and_bad_input_is_answered_with_problem_details()
    {
        await using var d = await StartAsync(null, "--Modules:Power:Drivers:0=sim", "--Modules:Power:PollInterval=00:00:00");
        await CreateNodesAsync(d, [NodeJson(1, "{\"driver\":\"sim\"}")]);
        var body = $"{{\"select\":{{\"ids\":[\"{NodeId(1)}\"]}}}}";

        async Task<JsonElement> Problem(HttpClient http, string path, string json, HttpStatusCode expected, string title)
        {
            var (response, problem) = await PostAsync(http, path, json);
            Assert.Equal(expected, response.StatusCode);
            Assert.Equal("application/problem+json", response.Content.Headers.ContentType!.MediaType);
            Assert.Equal(title, problem.GetProperty("title").GetString());
            return problem;
        }

        await Problem(d.Http, "/api/v1/power/on", body, HttpStatusCode.Unauthorized, "Missing bearer token");
        Assert.Null(d.Daemon.Store.Get(StateView.Cfg, Id(1))!.PhysState);
        Assert.Equal(0, d.Power().Drivers.OfType<SimPowerDriver>().Single().Calls);

        var unknown = await Problem(d.Authorized, "/api/v1/power/explode", body, HttpStatusCode.NotFound, "Unknown power action");
        Assert.Contains("on, off, cycle, reset, soft", unknown.GetProperty("detail").GetString(), StringComparison.Ordinal);
        await Problem(d.Authorized, "/api/v1/power/on", "{\"select\":{}}", HttpStatusCode.BadRequest, "Empty selection");
        await Problem(d.Authorized, "/api/v1/power/on", "{}", HttpStatusCode.BadRequest, "Empty selection");
        var none = await Problem(d.Authorized, "/api/v1/power/off", "{\"select\":{\"where\":{\"/Nodename\":\"nobody\"}}}", HttpStatusCode.BadRequest, "Empty selection");
        Assert.Equal("No node matches the selection.", none.GetProperty("detail").GetString());
        await Problem(d.Authorized, "/api/v1/power/on", "{\"all\":true,\"callTimeout\":-1}", HttpStatusCode.BadRequest, "Invalid body");
        await Problem(d.Authorized, "/api/v1/power/on", "{\"all\":true,\"retries\":\"two\"}", HttpStatusCode.BadRequest, "Invalid body");
        await Problem(d.Authorized, "/api/v1/power/on", "{\"all\":true,\"force\":true}", HttpStatusCode.BadRequest, "Invalid body");
        await Problem(d.Authorized, "/api/v1/power/on", "{\"select\":{\"ids\":[\"not-a-uuid\"]}}", HttpStatusCode.BadRequest, "Invalid node id");
        await Problem(d.Authorized, "/api/v1/power/on", "{\"select\":{\"where\":{\"/PowerState\":\"ON\"}}}", HttpStatusCode.BadRequest, "Unknown state URL");
        await Problem(d.Authorized, "/api/v1/power/on", "power on please", HttpStatusCode.BadRequest, "Invalid JSON");
        Assert.Equal(0, d.Power().Drivers.OfType<SimPowerDriver>().Single().Calls);
        Assert.Null(d.Daemon.Store.Get(StateView.Cfg, Id(1))!.PhysState);

        var missing = await d.Http.GetAsync("/api/v1/power/operations/0badc0de");
        Assert.Equal(HttpStatusCode.NotFound, missing.StatusCode);
        Assert.Equal("No such power operation", JsonDocument.Parse(await missing.Content.ReadAsStringAsync()).RootElement.GetProperty("title").GetString());
        Assert.Equal(HttpStatusCode.BadRequest, (await d.Authorized.GetAsync("/api/v1/power/status")).StatusCode);
    }

    [Fact]
    public async Task A_live_power_status_needs_the_token_and_without_it_no_bmc_is_called()
    {
        var counted = new CountingDriver("counted", TimeSpan.Zero);
        await using var d = await StartAsync(s => s.AddSingleton<IPowerDriver>(counted), "--Modules:Power:PollInterval=00:00:00", "--Reconcile:StartFrozen=true");
        await CreateNodesAsync(d, Enumerable.Range(1, 20).Select(i => NodeJson(i, $"{{\"driver\":\"counted\",\"address\":\"bmc-{i}\"}}")));

        foreach (var query in new[] { "all=true", $"id={NodeId(1)}", "where=/Extensions/Power/Driver=counted" })
        {
            var response = await d.Http.GetAsync($"/api/v1/power/status?{query}");
            Assert.Equal(HttpStatusCode.Unauthorized, response.StatusCode);
            Assert.Equal("application/problem+json", response.Content.Headers.ContentType!.MediaType);
            Assert.Equal("Missing bearer token", JsonDocument.Parse(await response.Content.ReadAsStringAsync()).RootElement.GetProperty("title").GetString());
            using var wrong = new HttpRequestMessage(HttpMethod.Get, $"/api/v1/power/status?{query}");
            wrong.Headers.Authorization = new System.Net.Http.Headers.AuthenticationHeaderValue("Bearer", "not-the-token-0123456789");
            Assert.Equal(HttpStatusCode.Unauthorized, (await d.Http.SendAsync(wrong)).StatusCode);
        }

        Assert.Equal(0, counted.Calls);

        // The last reading stays open: Dsc /PhysState through the node API, no call made.
        Assert.Equal(HttpStatusCode.OK, (await d.Http.GetAsync($"/api/v1/dsc/nodes/{NodeId(1)}/values/PhysState")).StatusCode);
        Assert.Equal(0, counted.Calls);

        // With the token the same request asks every BMC once.
        var all = JsonDocument.Parse(await d.Authorized.GetStringAsync("/api/v1/power/status?where=/Extensions/Power/Driver=counted")).RootElement;
        Assert.Equal((20, 20), (all.GetProperty("requested").GetInt32(), all.GetProperty("ok").GetInt32()));
        Assert.Equal(20, counted.Calls);
    }

    [Fact]
    public async Task With_power_off_the_endpoints_answer_409_and_the_openapi_document_lists_them()
    {
        await using var d = await StartAsync(null, "--Modules:Power:Enabled=false");
        Assert.Null(d.Power().Module);
        var (response, problem) = await PostAsync(d.Authorized, "/api/v1/power/on", "{\"all\":true}");
        Assert.Equal(HttpStatusCode.Conflict, response.StatusCode);
        Assert.Equal("Power control is off", problem.GetProperty("title").GetString());
        Assert.Contains("Modules:Power", problem.GetProperty("detail").GetString(), StringComparison.Ordinal);
        Assert.Equal(HttpStatusCode.Conflict, (await d.Http.GetAsync("/api/v1/power/operations")).StatusCode);
        Assert.Equal(HttpStatusCode.Conflict, (await d.Authorized.GetAsync("/api/v1/power/status?all=true")).StatusCode);

        var document = OpenApiDocument.Parse(await d.Http.GetStringAsync("/openapi/v1.json"), "json", new OpenApiReaderSettings()).Document!;
        var post = document.Paths["/api/v1/power/{action}"].Operations![HttpMethod.Post];
        Assert.NotEmpty(post.Security!);
        Assert.Contains("202", post.Responses!.Keys);
        Assert.Contains("401", post.Responses.Keys);
        Assert.Contains(HttpMethod.Get, document.Paths["/api/v1/power/operations"].Operations!.Keys);
        Assert.Contains(HttpMethod.Get, document.Paths["/api/v1/power/operations/{id}"].Operations!.Keys);
        Assert.NotEmpty(document.Paths["/api/v1/power/operations/{id}"].Operations![HttpMethod.Delete].Security!);
        var status = document.Paths["/api/v1/power/status"].Operations![HttpMethod.Get];
        Assert.NotEmpty(status.Security!);
        Assert.Contains("401", status.Responses!.Keys);
    }
}
