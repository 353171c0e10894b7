// The OpenAPI document as a client generator sees it: every operation typed, bodies declared, the answers the
// daemon really gives valid against the document's own schemas, an independent linter satisfied, and /docs
// served from the binary.
using System.Diagnostics;
using System.Net;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using System.Text.RegularExpressions;
using Kraken.Daemon.Tests.Power;

namespace Kraken.Daemon.Tests.Api;

[Trait("Category", "Network")]
public sealed partial class OpenApiDocumentTests : RootDaemonTestBase
{
    private static readonly string[] s_methods = ["get", "put", "post", "patch", "delete"];

    /// <summary>POSTs that read no body: freeze and thaw, here and on the original's paths.</summary>
    private static readonly string[] s_bodiless = ["/api/v1/reconcile/freeze", "/api/v1/reconcile/thaw", "/sme/freeze", "/sme/thaw"];

    private async Task<JsonNode> DocumentAsync() => JsonNode.Parse(await D.Http.GetStringAsync("/openapi/v1.json"))!;

    private static IEnumerable<(string Path, string Method, JsonNode Operation)> Operations(JsonNode document) =>
        document["paths"]!.AsObject().SelectMany(p => s_methods.Where(m => p.Value![m] is not null).Select(m => (p.Key, m, p.Value![m]!)));

    [Fact]
    public async Task Every_operation_has_a_typed_answer_and_every_operation_that_reads_a_body_declares_it()
    {
        var document = await DocumentAsync();
        var operations = Operations(document).ToList();
        Assert.True(operations.Count >= 50, $"only {operations.Count} operations");
        var untyped = operations.Where(o => !o.Operation["responses"]!.AsObject().Any(r => r.Value!["content"]?.AsObject().Any(c => c.Value!["schema"] is not null) == true))
            .Select(o => $"{o.Method} {o.Path}").ToList();
        Assert.True(untyped.Count == 0, "operations without a response schema: " + string.Join(", ", untyped));

        foreach (var (path, method, operation) in operations)
        {
            var reads = method is "put" or "patch" || (method == "post" && !s_bodiless.Contains(path));
            var body = operation["requestBody"];
            if (!reads)
            {
                Assert.True(body is null, $"{method} {path} declares a body it does not read");
                continue;
            }

            Assert.True(body is not null, $"{method} {path} reads a body it does not declare");
            Assert.True(body!["required"]?.GetValue<bool>() == true, $"{method} {path}: the body is not required");
            Assert.NotNull(body["content"]?["application/json"]?["schema"]);
        }

        // Errors are problem details with a schema, writes say they need the token.
        var create = document["paths"]!["/api/v1/cfg/nodes"]!["post"]!;
        foreach (var status in new[] { "400", "401", "409" })
        {
            Assert.Equal("#/components/schemas/ProblemDetails", create["responses"]![status]!["content"]!["application/problem+json"]!["schema"]!["$ref"]!.GetValue<string>());
        }

        Assert.Equal("bearer", create["security"]![0]!.AsObject().Single().Key);
        Assert.Equal("#/components/schemas/StateNodeList", create["responses"]!["201"]!["content"]!["application/json"]!["schema"]!["$ref"]!.GetValue<string>());
    }

    [Fact]
    public async Task Parameters_are_typed_and_every_path_parameter_is_declared()
    {
        var document = await DocumentAsync();
        foreach (var (path, method, operation) in Operations(document))
        {
            var parameters = operation["parameters"]?.AsArray().Select(p => p!).ToList() ?? [];
            foreach (Match m in PathParameter().Matches(path))
            {
                var declared = parameters.SingleOrDefault(p => p["name"]!.GetValue<string>() == m.Groups[1].Value && p["in"]!.GetValue<string>() == "path");
                Assert.True(declared is not null, $"{method} {path}: {{{m.Groups[1].Value}}} is not declared");
                Assert.True(declared!["required"]!.GetValue<bool>());
            }

            foreach (var p in parameters)
            {
                var (name, schema) = (p["name"]!.GetValue<string>(), p["schema"]!);
                var item = schema["items"] ?? schema;
                switch (name)
                {
                    case "view":
                        Assert.Equal("""["cfg","dsc"]""", item["enum"]!.ToJsonString());
                        break;
                    case "id" when !path.Contains("/operations/", StringComparison.Ordinal):
                    case "under" or "node":
                        Assert.True(item["format"]?.GetValue<string>() == "uuid", $"{method} {path}: {name} is not a uuid");
                        break;
                }
            }
        }

        var action = document["paths"]!["/api/v1/power/{action}"]!["post"]!["parameters"]!.AsArray().Single(p => p!["name"]!.GetValue<string>() == "action")!;
        Assert.Equal("""["on","off","cycle","reset","soft"]""", action["schema"]!["enum"]!.ToJsonString());
        var type = document["paths"]!["/api/v1/events"]!["get"]!["parameters"]!.AsArray().Single(p => p!["name"]!.GetValue<string>() == "type")!;
        Assert.Equal("""["state","mutation"]""", type["schema"]!["items"]!["enum"]!.ToJsonString());
        var lastEventId = document["paths"]!["/api/v1/events"]!["get"]!["parameters"]!.AsArray().Single(p => p!["name"]!.GetValue<string>() == "Last-Event-ID")!;
        Assert.Equal("header", lastEventId["in"]!.GetValue<string>());
        var schemas = document["components"]!["schemas"]!;
        Assert.Equal("""["PHYS_UNKNOWN","POWER_OFF","POWER_ON","POWER_CYCLE","PHYS_HANG","PHYS_ERROR"]""", schemas["StateNode"]!["properties"]!["physState"]!["enum"]!.ToJsonString());
        Assert.Equal("ipv4", schemas["StateNode"]!["properties"]!["extensions"]!["properties"]!["IPv4"]!["properties"]!["interfaces"]!["additionalProperties"]!["properties"]!["ip"]!["format"]!.GetValue<string>());
    }

    [Fact]
    public async Task The_answers_the_daemon_gives_are_valid_against_the_documents_schemas()
    {
        var check = new SchemaCheck(await DocumentAsync());
        var created = "00000000-0000-4000-8000-00000000d001";
        var n101 = TestDaemon.N101;
        var t1a = TestDaemon.T1a;
        (string Method, string Url, string Template, string? Body, bool Token)[] requests =
        [
            ("GET", "/api/v1/cfg/nodes", "/api/v1/{view}/nodes", null, false),
            ("GET", $"/api/v1/dsc/nodes?id={n101}", "/api/v1/{view}/nodes", null, false),
            ("GET", $"/api/v1/cfg/nodes/{t1a}", "/api/v1/{view}/nodes/{id}", null, false),
            ("GET", $"/api/v1/cfg/nodes/{t1a}/values", "/api/v1/{view}/nodes/{id}/values", null, false),
            ("GET", $"/api/v1/cfg/nodes/{t1a}/values/Extensions/IPv4/Interfaces/kraken/Ip", "/api/v1/{view}/nodes/{id}/values/{url}", null, false),
            ("GET", "/api/v1/dsc/export", "/api/v1/{view}/export", null, false),
            ("GET", "/api/v1/graph", "/api/v1/graph", null, false),
            ("GET", $"/api/v1/nodes/{n101}/plan", "/api/v1/nodes/{id}/plan", null, false),
            ("GET", "/api/v1/reconcile", "/api/v1/reconcile", null, false),
            ("GET", "/api/v1/tree", "/api/v1/tree", null, false),
            ("POST", "/api/v1/cfg/nodes", "/api/v1/cfg/nodes", $$"""{"id": "{{created}}", "nodename": "d1", "parentId": "{{TestDaemon.RootId}}", "physState": "POWER_OFF"}""", true),
            ("PATCH", $"/api/v1/cfg/nodes/{n101}", "/api/v1/cfg/nodes/{id}", """{"/Arch": "arm64", "/Extensions/IPv4/Interfaces/kraken/Mtu": 9000, "/Platform": null}""", true),
            ("PUT", $"/api/v1/cfg/nodes/{n101}/values/Extensions/Pxe/State", "/api/v1/cfg/nodes/{id}/values/{url}", """{"value": "WAIT"}""", true),
            ("POST", "/api/v1/cfg/bulk", "/api/v1/cfg/bulk", $$$"""{"select": {"under": "{{{t1a}}}", "where": {"/RunState": "SYNC"}}, "set": {"/Arch": "x86_64"}}""", true),
            ("POST", "/api/v1/cfg/import?mode=upsert", "/api/v1/cfg/import", $$"""{"format": "kraken-state/1", "nodes": [{"id": "{{created}}", "nodename": "d1b", "parentId": "{{TestDaemon.RootId}}"}]}""", true),
            ("PUT", $"/api/v1/cfg/nodes/{created}", "/api/v1/cfg/nodes/{id}", $$$$"""{"id": "{{{{created}}}}", "nodename": "d1c", "backupParents": ["{{{{t1a}}}}"], "services": {"dhcp": {"state": "RUN"}}}""", true),
            ("POST", "/api/v1/reconcile/freeze", "/api/v1/reconcile/freeze", null, true),
            ("GET", "/api/v1/cfg/nodes/00000000-0000-4000-8000-00000000dead", "/api/v1/{view}/nodes/{id}", null, false),
            ("GET", "/api/v1/sideways/nodes", "/api/v1/{view}/nodes", null, false),
            ("GET", "/api/v1/cfg/nodes?where=/Nope=1", "/api/v1/{view}/nodes", null, false),
            ("POST", "/api/v1/cfg/nodes", "/api/v1/cfg/nodes", """{"id": "00000000-0000-4000-8000-00000000d002"}""", false),
            ("GET", "/cfg/nodes", "/cfg/nodes", null, false),
            ("GET", $"/cfg/node/{t1a}", "/cfg/node/{id}", null, false),
            ("GET", $"/dsc/node/{n101}", "/dsc/node/{id}", null, false),
            ("GET", "/graph/json", "/graph/json", null, false),
            ("GET", "/enumerables", "/enumerables", null, false),
            ("GET", "/sme/frozen", "/sme/frozen", null, false),
            ("GET", "/sme/freeze", "/sme/freeze", null, false),
            ("POST", "/sme/thaw", "/sme/thaw", null, true),
            ("GET", "/ws", "/ws", null, false),
            ("GET", $"/graph/node/{n101}/json", "/graph/node/{id}/json", null, false),
            ("DELETE", $"/cfg/node/{created}", "/cfg/node/{id}", null, true),
            ("GET", "/healthz", "/healthz", null, false),
            ("GET", "/metrics", "/metrics", null, false),
        ];

        foreach (var (method, url, template, body, token) in requests)
        {
            await Exchange(check, token ? D.Authorized : D.Http, method, url, template, body);
        }

        // The original's node JSON, as read, written back.
        var legacy = await D.Http.GetStringAsync($"/cfg/node/{n101}");
        await Exchange(check, D.Authorized, "PUT", $"/cfg/node/{n101}", "/cfg/node/{id}", legacy);
        await Exchange(check, D.Authorized, "PUT", "/cfg/nodes", "/cfg/nodes", $$"""{"nodes": [{{legacy}}]}""");
        Assert.True(check.Errors.Count == 0, string.Join("\n", check.Errors));
    }

    [Fact]
    public async Task The_power_answers_are_valid_against_the_documents_schemas()
    {
        await using var d = await PowerTestSupport.StartAsync(null, "--Modules:Power:Drivers:0=sim", "--Modules:Power:PollInterval=00:00:00");
        var check = new SchemaCheck(JsonNode.Parse(await d.Http.GetStringAsync("/openapi/v1.json"))!);
        var node = "00000000-0000-4000-8000-00000000d101";
        await d.Authorized.PostAsync("/api/v1/cfg/nodes", Json($$$$"""{"id": "{{{{node}}}}", "parentId": "{{{{TestDaemon.RootId}}}}", "extensions": {"Power": {"driver": "sim", "address": "sim-1"}}}"""));
        var started = await Exchange(check, d.Authorized, "POST", "/api/v1/power/on", "/api/v1/power/{action}", $$"""{"select": {"ids": ["{{node}}", "00000000-0000-4000-8000-00000000d1ff"]}, "setCfg": false, "retries": 1, "callTimeout": 5}""");
        var id = started.GetProperty("id").GetString()!;
        for (var tries = 0; JsonDocument.Parse(await d.Http.GetStringAsync($"/api/v1/power/operations/{id}")).RootElement.GetProperty("state").GetString() == "running"; tries++)
        {
            Assert.True(tries < 500, "the operation did not end");
            await Task.Delay(20);
        }

        await Exchange(check, d.Http, "GET", $"/api/v1/power/operations/{id}", "/api/v1/power/operations/{id}", null);
        await Exchange(check, d.Http, "GET", "/api/v1/power/operations", "/api/v1/power/operations", null);
        await Exchange(check, d.Authorized, "DELETE", $"/api/v1/power/operations/{id}", "/api/v1/power/operations/{id}", null);
        await Exchange(check, d.Authorized, "GET", $"/api/v1/power/status?id={node}", "/api/v1/power/status", null);
        await Exchange(check, d.Authorized, "POST", "/api/v1/power/sideways", "/api/v1/power/{action}", """{"all": true}""");
        Assert.True(check.Errors.Count == 0, string.Join("\n", check.Errors));
    }

    [Fact]
    public async Task An_independent_linter_accepts_the_document()
    {
        var file = Path.Combine(D.Directory, "openapi.json");
        await File.WriteAllTextAsync(file, await D.Http.GetStringAsync("/openapi/v1.json"));
        var (exit, output) = Redocly.Lint(file);
        using var report = JsonDocument.Parse(output);
        var errors = report.RootElement.GetProperty("problems").EnumerateArray()
            .Where(p => p.GetProperty("severity").GetString() == "error")
            .Select(p => $"{p.GetProperty("ruleId").GetString()}: {p.GetProperty("message").GetString()} at {p.GetProperty("location")[0].GetProperty("pointer").GetString()}")
            .ToList();
        Assert.True(errors.Count == 0 && exit == 0, $"redocly lint (exit {exit}):\n" + string.Join("\n", errors));
    }

    [Fact]
    public async Task The_reference_page_loads_and_uses_only_assets_of_this_daemon()
    {
        using var noRedirects = new HttpClient(new HttpClientHandler { AllowAutoRedirect = false }) { BaseAddress = new Uri(D.Url) };
        var redirect = await noRedirects.GetAsync("/docs");
        Assert.Equal(new Uri(D.Url + "/docs/"), new Uri(new Uri(D.Url + "/docs"), redirect.Headers.Location!));
        var page = await D.Http.GetAsync("/docs/");
        Assert.Equal(HttpStatusCode.OK, page.StatusCode);
        Assert.Equal("text/html", page.Content.Headers.ContentType?.MediaType);
        var html = await page.Content.ReadAsStringAsync();

        // Every src and href is relative to this daemon, and each answers.
        var assets = AssetReference().Matches(html).Select(m => m.Groups[2].Value).ToList();
        Assert.Contains("scalar.js", assets);
        foreach (var asset in assets)
        {
            Assert.False(Uri.TryCreate(asset, UriKind.Absolute, out _) || asset.StartsWith("//", StringComparison.Ordinal), $"{asset} is not of this daemon");
            var response = await D.Http.GetAsync(new Uri(new Uri(D.Url + "/docs/"), asset));
            Assert.True(response.StatusCode == HttpStatusCode.OK, $"{asset}: {response.StatusCode}");
            Assert.True((await response.Content.ReadAsByteArrayAsync()).Length > 0, $"{asset} is empty");
        }

        // The configuration names no other host and turns off what would call one or link to one: web fonts,
        // telemetry, the agent, the developer toolbar.
        Assert.DoesNotContain("http://", html, StringComparison.Ordinal);
        Assert.DoesNotContain("https://", html, StringComparison.Ordinal);
        Assert.Contains("\"withDefaultFonts\":false", html, StringComparison.Ordinal);
        Assert.Contains("\"telemetry\":false", html, StringComparison.Ordinal);
        Assert.Contains("\"agent\":{\"disabled\":true}", html, StringComparison.Ordinal);
        Assert.Contains("\"showDeveloperTools\":\"never\"", html, StringComparison.Ordinal);
        Assert.Contains("\"url\":\"openapi/v1.json\"", html, StringComparison.Ordinal);
        Assert.Equal(HttpStatusCode.OK, (await D.Http.GetAsync("/openapi/v1.json")).StatusCode);
    }

    /// <summary>Sends one request, checks it against the document's request schema and its answer against the response schema.</summary>
    private static async Task<JsonElement> Exchange(SchemaCheck check, HttpClient http, string method, string url, string template, string? body)
    {
        var operation = check.Document["paths"]![template]?[method.ToLowerInvariant()];
        Assert.True(operation is not null, $"{method} {template} is not in the document");
        using var request = new HttpRequestMessage(new HttpMethod(method), url);
        if (body is not null)
        {
            request.Content = new StringContent(body, Encoding.UTF8, "application/json");
            check.Check(operation!["requestBody"]!["content"]!["application/json"]!["schema"]!, JsonDocument.Parse(body).RootElement, $"{method} {url} request");
        }

        using var response = await http.SendAsync(request);
        var status = ((int)response.StatusCode).ToString(System.Globalization.CultureInfo.InvariantCulture);
        var answer = operation!["responses"]![status];
        Assert.True(answer is not null, $"{method} {url} answered {status}, which the document does not list");
        var text = await response.Content.ReadAsStringAsync();
        var mediaType = response.Content.Headers.ContentType?.MediaType;
        if (text.Length == 0)
        {
            Assert.True(answer!["content"] is null, $"{method} {url} answered {status} empty, the document has content");
            return default;
        }

        var schema = answer!["content"]?[mediaType!]?["schema"];
        Assert.True(schema is not null, $"{method} {url} answered {status} {mediaType}, which the document does not list: {text}");
        if (mediaType is not ("application/json" or "application/problem+json"))
        {
            Assert.Equal("string", schema!["type"]!.GetValue<string>());
            return default;
        }

        var value = JsonDocument.Parse(text).RootElement.Clone();
        check.Check(schema!, value, $"{method} {url} {status}");
        return value;
    }

    [GeneratedRegex(@"\{([^}]+)\}")]
    private static partial Regex PathParameter();

    [GeneratedRegex("""(src|href)\s*=\s*["']([^"']+)["']""")]
    private static partial Regex AssetReference();

    /// <summary>
    /// Redocly CLI, installed by .ci/run (.ci/npm-packages.txt) under <see cref="Prefix"/>, or by this test on first use
    /// in the same way: an OpenAPI linter we did not write.
    /// </summary>
    private static class Redocly
    {
        private const string Package = "@redocly/cli@2.77.0";

        private static readonly string Prefix = Environment.GetEnvironmentVariable("KRAKEN_NPM_PREFIX") ?? "/opt/kraken-ci/node";

        private static readonly Lazy<string> s_binary = new(Install);

        public static (int Exit, string Output) Lint(string file)
        {
            var psi = new ProcessStartInfo(s_binary.Value) { RedirectStandardOutput = true, RedirectStandardError = true };
            foreach (var a in new[] { "lint", file, "--format", "json" })
            {
                psi.ArgumentList.Add(a);
            }

            psi.Environment["REDOCLY_TELEMETRY"] = "off";
            psi.Environment["REDOCLY_SUPPRESS_UPDATE_NOTICE"] = "true";
            using var p = Process.Start(psi)!;
            var output = p.StandardOutput.ReadToEndAsync();
            _ = p.StandardError.ReadToEndAsync();
            Assert.True(p.WaitForExit(120_000), "redocly lint did not finish within 120 s");
            return (p.ExitCode, output.Result);
        }

        private static string Install()
        {
            var binary = Path.Combine(Prefix, "node_modules", ".bin", "redocly");
            if (!File.Exists(binary))
            {
                var psi = new ProcessStartInfo("npm", ["install", "--prefix", Prefix, "--no-audit", "--no-fund", "--loglevel=error", Package]) { RedirectStandardOutput = true, RedirectStandardError = true };
                using var p = Process.Start(psi)!;
                var error = p.StandardError.ReadToEndAsync();
                _ = p.StandardOutput.ReadToEndAsync();
                Assert.True(p.WaitForExit(300_000) && p.ExitCode == 0, $"npm install {Package} failed: {error.Result}");
            }

            return binary;
        }
    }
}
