// The daemon's API under load, end to end over loopback HTTP against a durable root (SQLite, WAL, synchronous=FULL).
// Usage: dotnet run -c Release --project bench/Kraken.Daemon.Bench -- [NODES] (default 10000)
using System.Diagnostics;
using System.Globalization;
using System.Net.Http.Headers;
using System.Text;
using Kraken.Daemon.Hosting;
using Kraken.Tree.State;
using Kraken.Tree.StateFiles;
using Microsoft.Extensions.DependencyInjection;

var nodes = args.Length > 0 ? int.Parse(args[0], CultureInfo.InvariantCulture) : 10_000;
const string token = "bench-token-0123456789";
var dir = Directory.CreateTempSubdirectory("kraken-daemon-bench-").FullName;
try
{
    var root = NodeId.Parse("123e4567-e89b-12d3-a456-426655440000", null);
    var ids = Enumerable.Range(1, nodes).Select(i => NodeId.Parse(string.Create(CultureInfo.InvariantCulture, $"00000000-0000-4000-8000-{i:x12}"), null)).ToArray();
    var records = new List<NodeRecord> { NodeRecord.Empty(root).With("/Nodename", "root") };
    records.AddRange(ids.Select((id, i) => NodeRecord.Empty(id).With("/Nodename", $"n{i}").With("/ParentId", root.ToString())));
    var cluster = Path.Combine(dir, "cluster.json");
    StateFileWriter.WriteFile(cluster, records);

    var app = DaemonHost.Build(null,
    [
        $"--NodeId={root}", "--Api:Url=http://127.0.0.1:0", $"--Api:Token={token}", "--Sync:Bind=127.0.0.1:0",
        "--Sync:JoinSecret=bench-join-secret-0123456789", $"--Store:Path={Path.Combine(dir, "cfg.db")}", $"--Store:Import={cluster}",
        "--Logging:LogLevel:Default=Warning",
    ]);
    await app.StartAsync();
    var daemon = app.Services.GetRequiredService<KrakenDaemon>();
    using var http = new HttpClient { BaseAddress = new Uri(DaemonHost.ListeningUrls(app)[0]) };
    http.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", token);

    async Task Patch(NodeId id, string value)
    {
        using var body = new StringContent($$"""{"/PhysState": "{{value}}"}""", Encoding.UTF8, "application/json");
        using var response = await http.PatchAsync($"/api/v1/cfg/nodes/{id}", body);
        response.EnsureSuccessStatusCode();
    }

    // Warm-up: JIT, connection, SQLite statement caches.
    for (var i = 0; i < 50; i++)
    {
        await Patch(ids[i], i % 2 == 0 ? "POWER_ON" : "POWER_OFF");
    }

    Console.WriteLine($"nodes held: {daemon.Store.Count:N0}");
    Console.WriteLine("| scenario | operations | time | rate | latency p50 / p99 | writes per commit |");
    Console.WriteLine("|---|---:|---:|---:|---:|---:|");

    // One client, one write at a time: each waits for its own commit (an fsync of the WAL).
    var latencies = new List<double>();
    var commits0 = daemon.Durable!.Commits;
    var sw = Stopwatch.StartNew();
    for (var i = 0; i < 500; i++)
    {
        var t = Stopwatch.GetTimestamp();
        await Patch(ids[i % ids.Length], i % 2 == 0 ? "POWER_OFF" : "POWER_ON");
        latencies.Add(Stopwatch.GetElapsedTime(t).TotalMilliseconds);
    }

    Row("PATCH, 1 client", 500, sw.Elapsed, latencies, daemon.Durable.Commits - commits0);

    // Sixteen clients: concurrent writes share commits (group commit).
    foreach (var clients in new[] { 4, 16, 64 })
    {
        latencies = [];
        commits0 = daemon.Durable.Commits;
        var perClient = 2000 / clients;
        sw = Stopwatch.StartNew();
        await Task.WhenAll(Enumerable.Range(0, clients).Select(c => Task.Run(async () =>
        {
            var mine = new List<double>();
            for (var i = 0; i < perClient; i++)
            {
                var t = Stopwatch.GetTimestamp();
                await Patch(ids[((c * perClient) + i) % ids.Length], i % 2 == 0 ? "POWER_ON" : "POWER_OFF");
                mine.Add(Stopwatch.GetElapsedTime(t).TotalMilliseconds);
            }

            lock (latencies)
            {
                latencies.AddRange(mine);
            }
        })));
        Row($"PATCH, {clients} clients", clients * perClient, sw.Elapsed, latencies, daemon.Durable.Commits - commits0);
    }

    // Creating a node validates it against every node held (unique ids, addresses, parents): O(nodes) per write.
    latencies = [];
    commits0 = daemon.Durable.Commits;
    sw = Stopwatch.StartNew();
    for (var i = 0; i < 200; i++)
    {
        var t = Stopwatch.GetTimestamp();
        var id = string.Create(CultureInfo.InvariantCulture, $"00000000-0000-4000-9000-{i:x12}");
        using var body = new StringContent($$"""{"id": "{{id}}", "nodename": "c{{i}}", "parentId": "{{root}}"}""", Encoding.UTF8, "application/json");
        using var response = await http.PostAsync("/api/v1/cfg/nodes", body);
        response.EnsureSuccessStatusCode();
        latencies.Add(Stopwatch.GetElapsedTime(t).TotalMilliseconds);
    }

    Row("POST (create), 1 client", 200, sw.Elapsed, latencies, daemon.Durable.Commits - commits0);

    // Bulk: one request, every node, one transaction.
    commits0 = daemon.Durable.Commits;
    sw = Stopwatch.StartNew();
    using (var bulk = new StringContent("""{"all": true, "set": {"/PhysState": "POWER_ON", "/Arch": "amd64"}}""", Encoding.UTF8, "application/json"))
    {
        (await http.PostAsync("/api/v1/cfg/bulk", bulk)).EnsureSuccessStatusCode();
    }

    Row($"bulk set, all nodes", nodes, sw.Elapsed, [sw.Elapsed.TotalMilliseconds], daemon.Durable.Commits - commits0);

    // Reads.
    sw = Stopwatch.StartNew();
    var list = await http.GetByteArrayAsync("/api/v1/cfg/nodes");
    Console.WriteLine($"| GET /api/v1/cfg/nodes | 1 ({list.Length / 1024.0 / 1024.0:0.0} MiB) | {sw.Elapsed.TotalMilliseconds:0} ms | | | |");
    foreach (var scrape in new[] { "first", "second" })
    {
        // The node counts are reused for a second; wait that out so the second scrape counts again, warm.
        await Task.Delay(scrape == "second" ? 1100 : 0);
        sw = Stopwatch.StartNew();
        var metrics = await http.GetStringAsync("/metrics");
        Console.WriteLine($"| GET /metrics ({scrape}) | 1 ({metrics.Length / 1024.0:0.0} KiB) | {sw.Elapsed.TotalMilliseconds:0} ms | | | |");
    }

    await app.StopAsync();
    await app.DisposeAsync();
}
finally
{
    Directory.Delete(dir, recursive: true);
}

static void Row(string name, int operations, TimeSpan elapsed, List<double> latencies, long commits)
{
    latencies.Sort();
    var p50 = latencies[latencies.Count / 2];
    var p99 = latencies[Math.Min(latencies.Count - 1, (int)(latencies.Count * 0.99))];
    Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
        $"| {name} | {operations:N0} | {elapsed.TotalMilliseconds:0} ms | {operations / elapsed.TotalSeconds:N0}/s | {p50:0.00} / {p99:0.00} ms | {(commits == 0 ? 0 : (double)operations / commits):0.0} |"));
}
