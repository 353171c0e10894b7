// Every /api/v1 endpoint on a daemon bound to a loopback port: answers, auth refusals, problem details.
using System.Net;
using System.Text.Json;
using Kraken.Tree.State;

namespace Kraken.Daemon.Tests.Api;

[Trait("Category", "Network")]
public sealed class ApiTests : RootDaemonTestBase
{
    private static async Task<JsonElement> ReadJson(HttpResponseMessage response)
    {
        var text = await response.Content.ReadAsStringAsync();
        return JsonDocument.Parse(text).RootElement.Clone();
    }

    /// <summary>Asserts an RFC 7807 answer with the status and a detail containing <paramref name="mentions"/>.</summary>
    private static async Task<JsonElement> AssertProblem(HttpResponseMessage response, HttpStatusCode status, string mentions)
    {
        Assert.Equal(status, response.StatusCode);
        Assert.Equal("application/problem+json", response.Content.Headers.ContentType?.MediaType);
        var problem = await ReadJson(response);
        Assert.Equal((int)status, problem.GetProperty("status").GetInt32());
        Assert.True(problem.TryGetProperty("title", out _));
        Assert.Contains(mentions, problem.GetRawText(), StringComparison.Ordinal);
        return problem;
    }

    [Fact]
    public async Task Lists_and_filters_nodes_of_both_views()
    {
        var all = await ReadJson(await D.Http.GetAsync("/api/v1/cfg/nodes"));
        Assert.Equal(9, all.GetProperty("nodes").GetArrayLength());

        var under = await ReadJson(await D.Http.GetAsync($"/api/v1/cfg/nodes?under={TestDaemon.T1a}"));
        Assert.Equal(3, under.GetProperty("nodes").GetArrayLength());
        Assert.All(under.GetProperty("nodes").EnumerateArray(), n => Assert.Equal(TestDaemon.T1a, n.GetProperty("parentId").GetString()));

        var ids = await ReadJson(await D.Http.GetAsync($"/api/v1/cfg/nodes?id={TestDaemon.T1a},{TestDaemon.N101}"));
        Assert.Equal([TestDaemon.T1a, TestDaemon.N101], ids.GetProperty("nodes").EnumerateArray().Select(n => n.GetProperty("id").GetString()).Order());

        var where = await ReadJson(await D.Http.GetAsync("/api/v1/cfg/nodes?where=/PhysState=POWER_ON"));
        Assert.Equal([TestDaemon.RootId], where.GetProperty("nodes").EnumerateArray().Select(n => n.GetProperty("id").GetString()));

        var dsc = await ReadJson(await D.Http.GetAsync("/api/v1/dsc/nodes"));
        Assert.Equal(9, dsc.GetProperty("nodes").GetArrayLength());

        await AssertProblem(await D.Http.GetAsync("/api/v1/cfg/nodes?where=/PhysState=ON"), HttpStatusCode.BadRequest, "POWER_ON");
        await AssertProblem(await D.Http.GetAsync("/api/v1/cfg/nodes?under=nope"), HttpStatusCode.BadRequest, "nope");
        await AssertProblem(await D.Http.GetAsync("/api/v1/xyz/nodes"), HttpStatusCode.NotFound, "xyz");
    }

    [Fact]
    public async Task Gets_a_node_its_values_and_one_value()
    {
        var response = await D.Http.GetAsync($"/api/v1/cfg/nodes/{TestDaemon.T1a}");
        var node = await ReadJson(response);
        Assert.Equal("t1a", node.GetProperty("nodename").GetString());
        Assert.Equal("\"1\"", response.Headers.ETag?.Tag);

        var values = await ReadJson(await D.Http.GetAsync($"/api/v1/cfg/nodes/{TestDaemon.T1a}/values"));
        Assert.Equal("198.18.0.11", values.GetProperty("/Extensions/IPv4/Interfaces/kraken/Ip").GetString());

        var one = await ReadJson(await D.Http.GetAsync($"/api/v1/cfg/nodes/{TestDaemon.T1a}/values/Extensions/IPv4/Interfaces/kraken/Ip"));
        Assert.Equal("198.18.0.11", one.GetProperty("value").GetString());
        var unset = await ReadJson(await D.Http.GetAsync($"/api/v1/dsc/nodes/{TestDaemon.T1a}/values/Extensions/Pxe/State"));
        Assert.Equal(JsonValueKind.Null, unset.GetProperty("value").ValueKind);

        await AssertProblem(await D.Http.GetAsync("/api/v1/cfg/nodes/00000000-0000-4000-8000-00000000beef"), HttpStatusCode.NotFound, "00000000-0000-4000-8000-00000000beef");
        await AssertProblem(await D.Http.GetAsync($"/api/v1/cfg/nodes/{TestDaemon.T1a}/values/Nope"), HttpStatusCode.BadRequest, "/Nope");
    }

    [Fact]
    public async Task Creates_replaces_patches_and_deletes_cfg_nodes()
    {
        const string id = "00000000-0000-4000-8000-00000000c001";
        var create = await D.Authorized.PostAsync("/api/v1/cfg/nodes", Json($$"""{"id": "{{id}}", "nodename": "c1", "parentId": "{{TestDaemon.T1a}}", "physState": "POWER_OFF"}"""));
        Assert.Equal(HttpStatusCode.Created, create.StatusCode);
        Assert.Equal("c1", D.Daemon.Store.Get(StateView.Cfg, NodeId.Parse(id, null))!.Nodename);

        await AssertProblem(await D.Authorized.PostAsync("/api/v1/cfg/nodes", Json($$"""{"id": "{{id}}", "nodename": "again"}""")), HttpStatusCode.Conflict, id);

        var put = await D.Authorized.PutAsync($"/api/v1/cfg/nodes/{id}", Json($$"""{"id": "{{id}}", "nodename": "c1b", "parentId": "{{TestDaemon.T1a}}"}"""));
        Assert.Equal(HttpStatusCode.OK, put.StatusCode);
        var replaced = D.Daemon.Store.Get(StateView.Cfg, NodeId.Parse(id, null))!;
        Assert.Equal("c1b", replaced.Nodename);
        Assert.Null(replaced.PhysState);

        using var patch = new HttpRequestMessage(HttpMethod.Patch, $"/api/v1/cfg/nodes/{id}") { Content = Json("""{"/PhysState": "POWER_ON", "/Arch": "arm64"}""") };
        patch.Headers.IfMatch.Add(new System.Net.Http.Headers.EntityTagHeaderValue($"\"{replaced.Version}\""));
        Assert.Equal(HttpStatusCode.OK, (await D.Authorized.SendAsync(patch)).StatusCode);
        Assert.Equal("arm64", D.Daemon.Store.Get(StateView.Cfg, NodeId.Parse(id, null))!.Arch);

        using var stale = new HttpRequestMessage(HttpMethod.Patch, $"/api/v1/cfg/nodes/{id}") { Content = Json("""{"/Arch": "x"}""") };
        stale.Headers.IfMatch.Add(new System.Net.Http.Headers.EntityTagHeaderValue($"\"{replaced.Version}\""));
        await AssertProblem(await D.Authorized.SendAsync(stale), HttpStatusCode.PreconditionFailed, id);

        var set = await D.Authorized.PutAsync($"/api/v1/cfg/nodes/{id}/values/Extensions/Pxe/State", Json("""{"value": "WAIT"}"""));
        Assert.Equal("WAIT", (await ReadJson(set)).GetProperty("value").GetString());

        Assert.Equal(HttpStatusCode.NoContent, (await D.Authorized.DeleteAsync($"/api/v1/cfg/nodes/{id}")).StatusCode);
        Assert.False(D.Daemon.Store.Contains(NodeId.Parse(id, null)));
        await AssertProblem(await D.Authorized.DeleteAsync($"/api/v1/cfg/nodes/{id}"), HttpStatusCode.NotFound, id);
    }

    [Fact]
    public async Task Bad_input_is_a_problem_naming_what_was_wrong_and_changes_nothing()
    {
        var before = D.Daemon.Store.Sequence;
        var t1a = $"/api/v1/cfg/nodes/{TestDaemon.T1a}";
        await AssertProblem(await D.Authorized.PatchAsync(t1a, Json("""{"/PhysState": "POWER_ONN"}""")), HttpStatusCode.BadRequest, "POWER_ONN");
        await AssertProblem(await D.Authorized.PatchAsync(t1a, Json("""{"/PhysState": "POWER_ON", "/Nope": "1"}""")), HttpStatusCode.BadRequest, "/Nope");
        await AssertProblem(await D.Authorized.PatchAsync(t1a, Json("""{"/PhysState": """)), HttpStatusCode.BadRequest, "JSON");
        await AssertProblem(await D.Authorized.PatchAsync(t1a, Json("""{"/Extensions/IPv4": "x"}""")), HttpStatusCode.BadRequest, "container");
        await AssertProblem(await D.Authorized.PatchAsync(t1a, Json("""{"/Id": "00000000-0000-4000-8000-000000000001"}""")), HttpStatusCode.BadRequest, "/Id");
        await AssertProblem(await D.Authorized.PutAsync($"{t1a}/values/PhysState", Json("""{"v": 1}""")), HttpStatusCode.BadRequest, "value");
        await AssertProblem(await D.Authorized.PutAsync(t1a, Json($$"""{"id": "{{TestDaemon.N101}}"}""")), HttpStatusCode.BadRequest, "differs");
        var invalid = await AssertProblem(
            await D.Authorized.PostAsync("/api/v1/cfg/nodes", Json("""{"nodes": [{"id": "00000000-0000-4000-8000-00000000c002", "physState": "ON"}, {"id": "00000000-0000-4000-8000-00000000c003", "parentId": "00000000-0000-4000-8000-00000000dead"}]}""")),
            HttpStatusCode.BadRequest,
            "00000000-0000-4000-8000-00000000c002");
        Assert.Equal(2, invalid.GetProperty("errors").GetArrayLength());
        await AssertProblem(await D.Authorized.PostAsync("/api/v1/cfg/bulk", Json("""{"set": {"/PhysState": "POWER_ON"}}""")), HttpStatusCode.BadRequest, "all");
        await AssertProblem(await D.Authorized.PostAsync("/api/v1/cfg/bulk", Json("""{"select": {"under": "x"}, "set": {"/PhysState": "POWER_ON"}}""")), HttpStatusCode.BadRequest, "'x'");
        await AssertProblem(await D.Authorized.PostAsync("/api/v1/cfg/import", Json("""{"nodes": [{"id": "bad"}]}""")), HttpStatusCode.BadRequest, "bad");
        Assert.Equal(before, D.Daemon.Store.Sequence);
    }

    [Fact]
    public async Task Writes_without_the_token_are_refused_with_401()
    {
        var before = D.Daemon.Store.Sequence;
        var t1a = $"/api/v1/cfg/nodes/{TestDaemon.T1a}";
        var attempts = new List<HttpRequestMessage>
        {
            new(HttpMethod.Post, "/api/v1/cfg/nodes") { Content = Json("""{"id": "00000000-0000-4000-8000-00000000c009"}""") },
            new(HttpMethod.Put, t1a) { Content = Json($$"""{"id": "{{TestDaemon.T1a}}"}""") },
            new(HttpMethod.Patch, t1a) { Content = Json("""{"/PhysState": "POWER_ON"}""") },
            new(HttpMethod.Delete, t1a),
            new(HttpMethod.Put, t1a + "/values/PhysState") { Content = Json("""{"value": "POWER_ON"}""") },
            new(HttpMethod.Post, "/api/v1/cfg/bulk") { Content = Json("""{"all": true, "set": {"/PhysState": "POWER_ON"}}""") },
            new(HttpMethod.Post, "/api/v1/cfg/import") { Content = Json("""{"nodes": []}""") },
            new(HttpMethod.Post, "/api/v1/reconcile/freeze"),
            new(HttpMethod.Post, "/api/v1/reconcile/thaw"),
            new(HttpMethod.Put, "/cfg/nodes") { Content = Json("""{"nodes": []}""") },
            new(HttpMethod.Post, "/cfg/node") { Content = Json("""{"id": "00000000-0000-4000-8000-00000000c009"}""") },
            new(HttpMethod.Delete, $"/cfg/node/{TestDaemon.T1a}"),
            new(HttpMethod.Put, "/dsc/nodes") { Content = Json("""{"nodes": []}""") },
            new(HttpMethod.Post, "/sme/freeze"),
            new(HttpMethod.Post, "/sme/thaw"),
        };
        foreach (var request in attempts)
        {
            var path = $"{request.Method} {request.RequestUri}";
            var response = await D.Http.SendAsync(request);
            Assert.True(response.StatusCode == HttpStatusCode.Unauthorized, $"{path} answered {response.StatusCode}");
        }

        using var wrong = new HttpRequestMessage(HttpMethod.Patch, t1a) { Content = Json("""{"/PhysState": "POWER_ON"}""") };
        wrong.Headers.Authorization = new System.Net.Http.Headers.AuthenticationHeaderValue("Bearer", "not-the-token-at-all");
        await AssertProblem(await D.Http.SendAsync(wrong), HttpStatusCode.Unauthorized, "does not match");
        Assert.Equal(before, D.Daemon.Store.Sequence);
        Assert.True(D.Daemon.Reconcile.IsFrozen); // as it started: the refused thaw changed nothing
    }

    [Fact]
    public async Task Bulk_sets_values_on_a_selection_atomically()
    {
        var response = await D.Authorized.PostAsync("/api/v1/cfg/bulk", Json("{\"select\": {\"under\": \"" + TestDaemon.T1a + "\"}, \"set\": {\"/PhysState\": \"POWER_ON\", \"/Extensions/Pxe/State\": \"WAIT\"}}"));
        var result = await ReadJson(response);
        Assert.Equal(3, result.GetProperty("selected").GetInt32());
        Assert.Equal(3, result.GetProperty("changed").GetInt32());
        var on = D.Daemon.Store.Snapshot(StateView.Cfg).Where(r => r.PhysState == Kraken.Tree.State.Proto.PhysState.PowerOn).Select(r => r.Nodename).Order();
        Assert.Equal(["n101", "n102", "n103", "root"], on);

        var byId = await ReadJson(await D.Authorized.PostAsync("/api/v1/cfg/bulk", Json("{\"select\": {\"ids\": [\"" + TestDaemon.N101 + "\"], \"where\": {\"/PhysState\": \"POWER_ON\"}}, \"set\": {\"/PhysState\": \"POWER_OFF\"}}")));
        Assert.Equal(1, byId.GetProperty("changed").GetInt32());
    }

    [Fact]
    public async Task Imports_and_exports_state_files()
    {
        var export = await D.Http.GetStringAsync("/api/v1/cfg/export");
        Assert.Contains("\"format\": \"kraken-state/1\"", export, StringComparison.Ordinal);
        var again = await ReadJson(await D.Authorized.PostAsync("/api/v1/cfg/import", Json(export)));
        Assert.Equal(9, again.GetProperty("unchanged").GetInt32());
        await AssertProblem(await D.Authorized.PostAsync("/api/v1/cfg/import?mode=create", Json(export)), HttpStatusCode.BadRequest, "exists already");

        // The original's NodeList: four new nodes, and its root entry replaces ours.
        var legacy = await File.ReadAllTextAsync(Path.Combine(TestDaemon.RepoRoot(), "examples", "legacy-vbox-nodelist.json"));
        var result = await ReadJson(await D.Authorized.PostAsync("/api/v1/cfg/import", Json(legacy)));
        Assert.Equal(4, result.GetProperty("created").GetInt32());
        Assert.Equal(1, result.GetProperty("replaced").GetInt32());
        Assert.Equal(13, D.Daemon.Store.Count);
    }

    [Fact]
    public async Task Serves_the_graph_a_plan_freeze_thaw_and_the_tree()
    {
        var graph = await ReadJson(await D.Http.GetAsync("/api/v1/graph"));
        Assert.Equal(["OFFtoON", "ONtoOFF", "UKtoOFF", "UKtoSYNC"], graph.GetProperty("mutations").EnumerateArray().Select(m => m.GetProperty("id").GetString()).Order());
        var dot = await D.Http.GetStringAsync("/api/v1/graph?format=dot");
        Assert.StartsWith("digraph", dot.TrimStart(), StringComparison.Ordinal);
        await AssertProblem(await D.Http.GetAsync("/api/v1/graph?format=svg"), HttpStatusCode.BadRequest, "svg");

        Assert.True((await ReadJson(await D.Authorized.PostAsync("/api/v1/reconcile/freeze", null))).GetProperty("frozen").GetBoolean());
        Assert.True(D.Daemon.Reconcile.IsFrozen);
        Assert.True((await ReadJson(await D.Http.GetAsync("/api/v1/reconcile"))).GetProperty("frozen").GetBoolean());

        // Frozen: the plan is there, but nothing runs.
        await D.Authorized.PatchAsync($"/api/v1/cfg/nodes/{TestDaemon.T1a}", Json("""{"/PhysState": "POWER_ON"}"""));
        var plan = await ReadJson(await D.Http.GetAsync($"/api/v1/nodes/{TestDaemon.T1a}/plan"));
        Assert.Equal(["UKtoOFF", "OFFtoON", "UKtoSYNC"], plan.GetProperty("plan").GetProperty("steps").EnumerateArray().Select(s => s.GetProperty("mutation").GetString()));

        Assert.False((await ReadJson(await D.Authorized.PostAsync("/api/v1/reconcile/thaw", null))).GetProperty("frozen").GetBoolean());
        var t1a = NodeId.Parse(TestDaemon.T1a, null);
        await Until(() => D.Daemon.Store.Get(StateView.Dsc, t1a)?.PhysState == Kraken.Tree.State.Proto.PhysState.PowerOn, "the simulated power module turns t1a on");
        // Powered, it waits for its daemon to join (no daemon runs here): the join step is under way.
        var joining = await ReadJson(await D.Http.GetAsync($"/api/v1/nodes/{TestDaemon.T1a}/plan"));
        Assert.Equal("Running", joining.GetProperty("status").GetString());
        Assert.Equal(["UKtoSYNC"], joining.GetProperty("plan").GetProperty("steps").EnumerateArray().Select(s => s.GetProperty("mutation").GetString()));

        var tree = await ReadJson(await D.Http.GetAsync("/api/v1/tree"));
        Assert.Equal("root", tree.GetProperty("role").GetString());
        Assert.Equal(TestDaemon.RootId, tree.GetProperty("self").GetString());
        Assert.Equal(0, tree.GetProperty("adjacencies").GetArrayLength());

        Assert.Equal("ok\n", await D.Http.GetStringAsync("/healthz"));
    }

    internal static async Task Until(Func<bool> condition, string what, int seconds = 20)
    {
        var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(seconds);
        while (!condition())
        {
            Assert.True(DateTime.UtcNow < deadline, $"timed out waiting until {what}");
            await Task.Delay(20);
        }
    }
}
