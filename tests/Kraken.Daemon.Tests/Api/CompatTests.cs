// The original Kraken's paths and JSON shapes (KRAKEN-REFERENCE 6.9), with the token and without GET side effects.
using System.Net;
using System.Text;
using System.Text.Json;
using Kraken.Tree.State;

namespace Kraken.Daemon.Tests.Api;

[Trait("Category", "Network")]
public sealed class CompatTests : RootDaemonTestBase
{
    private async Task<JsonElement> Get(string path)
    {
        var response = await D.Http.GetAsync(path);
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        return JsonDocument.Parse(await response.Content.ReadAsStringAsync()).RootElement.Clone();
    }

    [Fact]
    public async Task Nodes_read_as_the_originals_jsonpb()
    {
        var cfg = await Get("/cfg/nodes");
        Assert.Equal(9, cfg.GetProperty("nodes").GetArrayLength());
        var t1a = await Get($"/cfg/node/{TestDaemon.T1a}");
        Assert.Equal("t1a", t1a.GetProperty("nodename").GetString());
        Assert.Equal("SYNC", t1a.GetProperty("runState").GetString());
        Assert.Equal(TestDaemon.RootId, t1a.GetProperty("parentId").GetString());
        Assert.Equal(JsonValueKind.Array, t1a.GetProperty("services").ValueKind);
        Assert.Contains(t1a.GetProperty("services").EnumerateArray(), s => s.GetProperty("id").GetString() == "dhcp" && s.GetProperty("state").GetString() == "RUN");
        var exts = t1a.GetProperty("extensions").EnumerateArray().ToList();
        var ipv4 = Assert.Single(exts, e => e.GetProperty("@type").GetString() == "type.googleapis.com/IPv4.IPv4OverEthernet");
        Assert.Equal("198.18.0.11", ipv4.GetProperty("ifaces").GetProperty("kraken").GetProperty("ip").GetProperty("ip").GetString());
        Assert.Equal("255.255.255.0", ipv4.GetProperty("ifaces").GetProperty("kraken").GetProperty("ip").GetProperty("subnet").GetString());
        Assert.Equal("52:54:00:18:00:11", ipv4.GetProperty("ifaces").GetProperty("kraken").GetProperty("eth").GetProperty("mac").GetString());
        var pxe = Assert.Single(exts, e => e.GetProperty("@type").GetString() == "type.googleapis.com/PXE.Client");
        Assert.Equal("IPXE", pxe.GetProperty("method").GetString());

        Assert.Equal(9, (await Get("/dsc/nodes")).GetProperty("nodes").GetArrayLength());
        Assert.Equal(TestDaemon.T1a, (await Get($"/dsc/node/{TestDaemon.T1a}")).GetProperty("id").GetString());

        var missing = await D.Http.GetAsync("/cfg/node/00000000-0000-4000-8000-00000000beef");
        Assert.Equal(HttpStatusCode.NotFound, missing.StatusCode);
        Assert.Equal(string.Empty, await missing.Content.ReadAsStringAsync());
    }

    [Fact]
    public async Task Writes_follow_the_originals_status_codes()
    {
        const string id = "00000000-0000-4000-8000-00000000c001";
        var legacyNode = $$"""{"id": "{{id}}", "nodename": "c1", "parentId": "{{TestDaemon.RootId}}", "extensions": [{"@type": "type.googleapis.com/PXE.Client", "state": "NONE"}], "services": []}""";
        var created = await D.Authorized.PostAsync($"/cfg/node/{TestDaemon.T1a}", Json(legacyNode));
        Assert.Equal(HttpStatusCode.OK, created.StatusCode);
        Assert.Equal("c1", D.Daemon.Store.Get(StateView.Cfg, NodeId.Parse(id, null))!.Nodename);

        var duplicate = await D.Authorized.PostAsync("/cfg/node", Json(legacyNode));
        Assert.Equal(HttpStatusCode.Conflict, duplicate.StatusCode);
        Assert.Contains(id, await duplicate.Content.ReadAsStringAsync(), StringComparison.Ordinal);
        Assert.Equal(HttpStatusCode.BadRequest, (await D.Authorized.PostAsync("/cfg/node", Json("{not json"))).StatusCode);

        var put = await D.Authorized.PutAsync("/cfg/node", Json(legacyNode.Replace("\"c1\"", "\"c1b\"", StringComparison.Ordinal)));
        Assert.Equal(HttpStatusCode.OK, put.StatusCode);
        Assert.Equal("c1b", D.Daemon.Store.Get(StateView.Cfg, NodeId.Parse(id, null))!.Nodename);

        // PUT /cfg/nodes answers with the nodes that succeeded only.
        var bulk = await D.Authorized.PutAsync("/cfg/nodes", Json($$"""{"nodes": [{"id": "{{id}}", "nodename": "c1c", "parentId": "{{TestDaemon.RootId}}"}, {"id": "{{id}}x"}]}"""));
        var answered = JsonDocument.Parse(await bulk.Content.ReadAsStringAsync()).RootElement.GetProperty("nodes");
        Assert.Equal("c1c", Assert.Single(answered.EnumerateArray()).GetProperty("nodename").GetString());

        var dsc = await D.Authorized.PutAsync($"/dsc/node/{id}", Json($$"""{"id": "{{id}}", "physState": "POWER_ON"}"""));
        Assert.Equal(HttpStatusCode.OK, dsc.StatusCode);
        Assert.Equal(Kraken.Tree.State.Proto.PhysState.PowerOn, D.Daemon.Store.Get(StateView.Dsc, NodeId.Parse(id, null))!.PhysState);

        Assert.Equal(HttpStatusCode.OK, (await D.Authorized.DeleteAsync($"/cfg/node/{id}")).StatusCode);
        Assert.False(D.Daemon.Store.Contains(NodeId.Parse(id, null)));
        Assert.Equal(HttpStatusCode.NotFound, (await D.Authorized.DeleteAsync($"/cfg/node/{id}")).StatusCode);
    }

    [Fact]
    public async Task Sme_paths_freeze_only_on_an_authorized_post()
    {
        // The test root starts frozen; a GET must not thaw it, and an authorized POST thaws and freezes.
        Assert.True((await Get("/sme/frozen")).GetProperty("frozen").GetBoolean());
        Assert.Equal(HttpStatusCode.MethodNotAllowed, (await D.Http.GetAsync("/sme/thaw")).StatusCode);
        Assert.True(D.Daemon.Reconcile.IsFrozen);
        Assert.False(JsonDocument.Parse(await (await D.Authorized.PostAsync("/sme/thaw", null)).Content.ReadAsStringAsync()).RootElement.GetProperty("frozen").GetBoolean());
        Assert.Equal(HttpStatusCode.MethodNotAllowed, (await D.Http.GetAsync("/sme/freeze")).StatusCode);
        Assert.False(D.Daemon.Reconcile.IsFrozen);

        var freeze = await D.Authorized.PostAsync("/sme/freeze", null);
        Assert.True(JsonDocument.Parse(await freeze.Content.ReadAsStringAsync()).RootElement.GetProperty("frozen").GetBoolean());
        Assert.True((await Get("/sme/frozen")).GetProperty("frozen").GetBoolean());
        var thaw = await D.Authorized.PostAsync("/sme/thaw", null);
        Assert.False(JsonDocument.Parse(await thaw.Content.ReadAsStringAsync()).RootElement.GetProperty("frozen").GetBoolean());
    }

    [Fact]
    public async Task Graph_enumerables_and_ws_answer_in_the_originals_shapes()
    {
        var graph = await Get("/graph/json");
        var nodes = graph.GetProperty("nodes").EnumerateArray().ToList();
        Assert.NotEmpty(nodes);
        Assert.All(nodes, n => Assert.True(n.TryGetProperty("label", out _) && n.TryGetProperty("id", out _)));
        var edges = graph.GetProperty("edges").EnumerateArray().ToList();
        Assert.Equal(5, edges.Count); // UKtoOFF, OFFtoON, ONtoOFF between the power states, UKtoSYNC from on and unknown
        Assert.All(edges, e => Assert.True(e.TryGetProperty("from", out _) && e.TryGetProperty("to", out _) && e.TryGetProperty("id", out _)));

        // No active path (no goal once RunState SYNC is taken out of its Cfg): 409 with a message.
        await D.Authorized.PatchAsync($"/api/v1/cfg/nodes/{TestDaemon.N101}", Json("""{"/RunState": null}"""));
        var none = await D.Http.GetAsync($"/graph/node/{TestDaemon.N101}/json");
        Assert.Equal(HttpStatusCode.Conflict, none.StatusCode);
        Assert.Contains("no active path", await none.Content.ReadAsStringAsync(), StringComparison.Ordinal);

        await D.Authorized.PostAsync("/sme/freeze", null);
        await D.Authorized.PatchAsync($"/api/v1/cfg/nodes/{TestDaemon.T1a}", Json("""{"/PhysState": "POWER_ON"}"""));
        var path = await Get($"/graph/node/{TestDaemon.T1a}/json");
        var red = path.GetProperty("edges").EnumerateArray().Count(e => e.GetProperty("color").GetProperty("color").GetString() == "#FF0000");
        Assert.Equal(3, red); // UKtoOFF, OFFtoON, UKtoSYNC

        var enums = (await Get("/enumerables")).EnumerateArray().ToList();
        var phys = Assert.Single(enums, e => e.GetProperty("url").GetString() == "physState");
        Assert.Equal("POWER_ON", phys.GetProperty("options").GetProperty("2").GetString());
        Assert.Contains(enums, e => e.GetProperty("url").GetString() == "runState");
        var pxeState = Assert.Single(enums, e => e.GetProperty("url").GetString() == "type.googleapis.com/PXE.Client/state");
        Assert.Equal("COMP", pxeState.GetProperty("options").GetProperty("3").GetString());

        var ws = await Get("/ws");
        Assert.Equal("/ws", ws.GetProperty("url").GetString());
        Assert.Equal(new Uri(D.Url).Port.ToString(System.Globalization.CultureInfo.InvariantCulture), ws.GetProperty("port").GetString());
    }

    [Fact]
    public async Task The_original_websocket_protocol_sends_only_subscribed_types()
    {
        using var ws = new System.Net.WebSockets.ClientWebSocket();
        using var cts = new CancellationTokenSource(TimeSpan.FromSeconds(20));
        await ws.ConnectAsync(new Uri(D.Url.Replace("http", "ws", StringComparison.Ordinal) + "/ws"), cts.Token);
        await Api.ApiTests.Until(() => Microsoft.Extensions.DependencyInjection.ServiceProviderServiceExtensions.GetRequiredService<Kraken.Daemon.Events.EventHub>(D.Services).ClientCount == 1, "the socket subscribed");

        // Nothing before a subscription; then STATE_CHANGE only (the README's string command works as meant).
        await D.Authorized.PatchAsync($"/api/v1/cfg/nodes/{TestDaemon.N101}", Json("""{"/Arch": "before"}"""));
        await ws.SendAsync(Encoding.UTF8.GetBytes("""{"command": "SUBSCRIBE", "type": "STATE_CHANGE"}"""), System.Net.WebSockets.WebSocketMessageType.Text, true, cts.Token);
        await Task.Delay(200);
        await D.Authorized.PatchAsync($"/api/v1/cfg/nodes/{TestDaemon.N101}", Json("""{"/Arch": "after"}"""));
        var buffer = new byte[4096];
        var result = await ws.ReceiveAsync(buffer, cts.Token);
        var message = JsonDocument.Parse(Encoding.UTF8.GetString(buffer, 0, result.Count)).RootElement;
        Assert.Equal(1, message.GetProperty("type").GetInt32());
        Assert.Equal("/Arch", message.GetProperty("url").GetString());
        Assert.Equal("after", message.GetProperty("value").GetString());
        Assert.Equal(TestDaemon.N101, message.GetProperty("nodeid").GetString());
        Assert.Contains("CFG_UPDATE", message.GetProperty("data").GetString(), StringComparison.Ordinal);
    }
}
