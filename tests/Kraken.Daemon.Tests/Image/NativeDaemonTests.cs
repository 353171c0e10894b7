// The NativeAOT kraken actually works, not only links: a root on loopback answers the API, /metrics, OpenAPI and the client verbs.
using System.Net;
using System.Net.Http.Headers;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using Kraken.Daemon.Tests.Functional;
using Kraken.Daemon.Tests.Pxe;
using Xunit.Abstractions;

namespace Kraken.Daemon.Tests.Image;

/// <summary>
/// Runs the published native <c>kraken</c> as a root with a durable SQLite store (its native library is the
/// libe_sqlite3.so published beside the binary), drives it over HTTP and with the native client verbs, restarts it
/// to read the store back, and compares its OpenAPI document with the one the JIT build serves for the same
/// configuration: source-generated JSON, binding and request delegates must behave as the reflection-based ones.
/// </summary>
[Collection(NativeKrakenCollection.Name)]
[Trait("Category", "Aot")]
[Trait("Category", "Network")]
public sealed class NativeDaemonTests(NativeKraken native, ITestOutputHelper output) : IDisposable
{
    private const string Node = "00000000-0000-4000-8000-00000000a07a";
    private readonly string _dir = Directory.CreateTempSubdirectory("kraken-aot-test-").FullName;
    private readonly List<ChildProcess> _processes = [];

    public void Dispose()
    {
        foreach (var p in _processes)
        {
            p.Dispose();
        }

        Directory.Delete(_dir, recursive: true);
    }

    [Fact]
    public async Task The_native_daemon_serves_the_api_metrics_and_openapi_and_its_client_verbs_work()
    {
        output.WriteLine(native.Log.TrimEnd());
        output.WriteLine($"publish step: {native.Elapsed.TotalSeconds:F0} s; binary {new FileInfo(native.Binary).Length / 1048576.0:F1} MiB");
        Assert.Equal("aot", native.Kind);
        Assert.True(File.Exists(Path.Combine(Path.GetDirectoryName(native.Binary)!, "libe_sqlite3.so")));
        var (exit, version) = Command.Run(native.Binary, ["--version"]);
        Assert.Equal(0, exit);
        Assert.Contains("(aot, linux-x64", version, StringComparison.Ordinal);

        var (config, url) = WriteConfig("native", Path.Combine(_dir, "cfg.db"));
        var daemon = await StartAsync(native.Binary, [], config, url);
        using var http = new HttpClient { BaseAddress = new Uri(url) };
        http.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", TestDaemon.Token);

        // Create, read back (with its version as ETag), and a bad node answered as problem details naming the value.
        var created = await http.PostAsync("/api/v1/cfg/nodes", Json($$"""{"id": "{{Node}}", "nodename": "aot1"}"""));
        Assert.Equal(HttpStatusCode.Created, created.StatusCode);
        var got = await http.GetAsync($"/api/v1/cfg/nodes/{Node}");
        Assert.Equal(HttpStatusCode.OK, got.StatusCode);
        Assert.NotNull(got.Headers.ETag);
        Assert.Equal("aot1", JsonDocument.Parse(await got.Content.ReadAsStringAsync()).RootElement.GetProperty("nodename").GetString());
        var bad = await http.PostAsync("/api/v1/cfg/nodes", Json("""{"id": "00000000-0000-4000-8000-00000000a07b", "physState": "SIDEWAYS"}"""));
        Assert.Equal(HttpStatusCode.BadRequest, bad.StatusCode);
        Assert.Equal("application/problem+json", bad.Content.Headers.ContentType?.MediaType);
        var problem = JsonDocument.Parse(await bad.Content.ReadAsStringAsync()).RootElement;
        Assert.Equal("Invalid nodes", problem.GetProperty("title").GetString());
        Assert.Contains("SIDEWAYS", problem.GetProperty("errors")[0].GetString(), StringComparison.Ordinal);

        // The native client verbs against the native daemon.
        string[] client = ["--server", url, "--token", TestDaemon.Token];
        (exit, var text) = Command.Run(native.Binary, ["node", "set", Node, "/PhysState=POWER_ON", .. client]);
        Assert.True(exit == 0, text);
        (exit, text) = Command.Run(native.Binary, ["bulk", "set", "/Arch=x86_64", "--id", Node, .. client]);
        Assert.True(exit == 0, text);
        Assert.Equal("selected 1, changed 1", text);
        (exit, text) = Command.Run(native.Binary, ["nodes", "list", "--json", .. client]);
        Assert.True(exit == 0, text);
        var listed = JsonDocument.Parse(text).RootElement.GetProperty("nodes").EnumerateArray().Single(n => n.GetProperty("id").GetString() == Node);
        Assert.Equal("POWER_ON", listed.GetProperty("physState").GetString());
        (exit, text) = Command.Run(native.Binary, ["node", "get", Node, "--server", url]);
        Assert.True(exit == 0, text);
        Assert.Contains(text.Split('\n'), l => l.StartsWith("/Arch", StringComparison.Ordinal) && l.Contains("x86_64", StringComparison.Ordinal));
        (exit, text) = Command.Run(native.Binary, ["node", "set", Node, "/PhysState=SIDEWAYS", .. client]);
        Assert.Equal(1, exit);
        Assert.Contains("POWER_ON", text, StringComparison.Ordinal);

        var metrics = await http.GetStringAsync("/metrics");
        var commits = metrics.Split('\n').Single(l => l.StartsWith("kraken_cfg_transactions_committed_total ", StringComparison.Ordinal));
        Assert.True(long.Parse(commits.Split(' ')[1], System.Globalization.CultureInfo.InvariantCulture) >= 3, commits);
        Assert.Contains("# TYPE kraken_cfg_transactions_committed_total counter", metrics, StringComparison.Ordinal);

        // The OpenAPI document equals the JIT build's for the same configuration (but for the server's address).
        var nativeDocument = await http.GetStringAsync("/openapi/v1.json");
        var (jitConfig, jitUrl) = WriteConfig("jit", ":memory:");
        await StartAsync("dotnet", [DaemonProcess.KrakenDll], jitConfig, jitUrl);
        using var jitHttp = new HttpClient { BaseAddress = new Uri(jitUrl) };
        var jitDocument = await jitHttp.GetStringAsync("/openapi/v1.json");
        Assert.Equal(WithoutServers(jitDocument), WithoutServers(nativeDocument));
        var paths = JsonNode.Parse(nativeDocument)!["paths"]!.AsObject();
        Assert.Contains("/api/v1/{view}/nodes", paths.Select(p => p.Key));
        Assert.Contains("/api/v1/power/{action}", paths.Select(p => p.Key));

        // A graceful stop, and a restart reads the node back from SQLite.
        daemon.Terminate(TimeSpan.FromSeconds(15));
        Assert.Equal(0, daemon.ExitCode);
        await StartAsync(native.Binary, [], config, url);
        Assert.Equal(HttpStatusCode.OK, (await http.GetAsync($"/api/v1/cfg/nodes/{Node}")).StatusCode);
    }

    private (string Path, string Url) WriteConfig(string name, string store)
    {
        var api = DaemonProcess.FreePort();
        var config = new JsonObject
        {
            ["NodeId"] = TestDaemon.RootId,
            ["Role"] = "root",
            ["Api"] = new JsonObject { ["Url"] = $"http://127.0.0.1:{api}", ["Token"] = TestDaemon.Token },
            ["Sync"] = new JsonObject { ["Bind"] = $"127.0.0.1:{DaemonProcess.FreePort()}", ["JoinSecret"] = TestDaemon.Secret },
            ["Store"] = new JsonObject { ["Path"] = store },
            ["Logging"] = new JsonObject { ["LogLevel"] = new JsonObject { ["Default"] = "Information", ["Microsoft.AspNetCore"] = "Warning" } },
        };
        var path = Path.Combine(_dir, $"{name}.json");
        File.WriteAllText(path, config.ToJsonString());
        return (path, $"http://127.0.0.1:{api}");
    }

    private async Task<ChildProcess> StartAsync(string file, string[] prefix, string config, string url)
    {
        var p = ChildProcess.Start(file, [.. prefix, "serve", "--config", config]);
        _processes.Add(p);
        using var http = new HttpClient { Timeout = TimeSpan.FromSeconds(2) };
        var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(60);
        while (true)
        {
            Assert.False(p.HasExited, $"{file} exited:\n{p.Output}");
            try
            {
                if ((await http.GetAsync(url + "/healthz")).IsSuccessStatusCode)
                {
                    return p;
                }
            }
            catch (Exception ex) when (ex is HttpRequestException or TaskCanceledException)
            {
                // Not listening yet.
            }

            Assert.True(DateTime.UtcNow < deadline, $"{file} did not answer:\n{p.Output}");
            await Task.Delay(100);
        }
    }

    private static string WithoutServers(string document)
    {
        var node = JsonNode.Parse(document)!.AsObject();
        node.Remove("servers");
        return node.ToJsonString();
    }

    private static StringContent Json(string json) => new(json, Encoding.UTF8, "application/json");
}
