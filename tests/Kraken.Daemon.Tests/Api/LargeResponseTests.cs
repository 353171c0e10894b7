// Exports and whole node lists: streamed with the same bytes as the buffered answers, and bounded in number
// (503 with Retry-After beyond Api:MaxConcurrentExports), their places freed when a client leaves mid-answer.
using System.Buffers;
using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using System.Text;
using System.Text.Json;
using Kraken.Daemon.Api;
using Kraken.Tree.State;
using Kraken.Tree.StateFiles;
using Microsoft.Extensions.DependencyInjection;

namespace Kraken.Daemon.Tests.Api;

[Trait("Category", "Network")]
public sealed class LargeResponseTests
{
    [Fact]
    public async Task Exports_and_node_lists_stream_the_same_bytes_as_the_buffered_answers()
    {
        await using var d = await TestDaemon.StartRootAsync(extra: "--Reconcile:StartFrozen=true");
        await ImportAsync(d, 3000);
        var store = d.Daemon.Store;
        store.Set(StateView.Dsc, NodeId.Parse(TestDaemon.N101, null), "/Nodename", "dsc-name");

        foreach (var (view, path) in new[] { (StateView.Cfg, "cfg"), (StateView.Dsc, "dsc") })
        {
            var expected = Encoding.UTF8.GetBytes(StateFileWriter.WriteToString(store.Snapshot(view)));
            using var export = await d.Http.GetAsync($"/api/v1/{path}/export");
            Assert.Equal(HttpStatusCode.OK, export.StatusCode);
            Assert.Equal("application/json; charset=utf-8", export.Content.Headers.ContentType!.ToString());
            var bytes = await export.Content.ReadAsByteArrayAsync();
            Assert.True(bytes.Length > 2 * LargeResponseGate.FlushBytes, $"the export is {bytes.Length} bytes, too small to need several flushes");
            Assert.Equal(expected, bytes);

            Assert.Equal(Compact(store.Snapshot(view), StateFileWriter.WriteNode), await d.Http.GetByteArrayAsync($"/api/v1/{path}/nodes"));
            Assert.Equal(Compact(store.Snapshot(view), LegacyNodeJson.Write), await d.Http.GetByteArrayAsync($"/{path}/nodes"));
        }

        // A filtered list streams what the filter keeps.
        var under = store.Snapshot(StateView.Cfg).Where(n => n.ParentId == NodeId.Parse(TestDaemon.T1a, null));
        Assert.Equal(Compact(under, StateFileWriter.WriteNode), await d.Http.GetByteArrayAsync($"/api/v1/cfg/nodes?under={TestDaemon.T1a}"));
    }

    [Fact]
    public async Task Beyond_the_limit_exports_and_whole_lists_get_503_with_retry_after_until_a_place_frees()
    {
        await using var d = await TestDaemon.StartRootAsync(extra: ["--Reconcile:StartFrozen=true", "--Api:MaxConcurrentExports=2"]);
        await ImportAsync(d, 40_000);
        var gate = d.Services.GetRequiredService<LargeResponseGate>();
        var expectedLength = Encoding.UTF8.GetByteCount(StateFileWriter.WriteToString(d.Daemon.Store.Snapshot(StateView.Cfg)));

        // More than two stalled readers' socket buffers can take (at most 4 MB sending, a 4 KiB window receiving).
        Assert.True(expectedLength > 6_000_000, $"the export is only {expectedLength} bytes");

        // Two clients that ask for the export and never read hold both places.
        var stalled = new List<Socket>();
        try
        {
            for (var i = 0; i < 2; i++)
            {
                var s = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp) { ReceiveBufferSize = 4096 };
                stalled.Add(s);
                await s.ConnectAsync(IPAddress.Loopback, new Uri(d.Url).Port);
                await s.SendAsync("GET /api/v1/cfg/export HTTP/1.1\r\nHost: localhost\r\n\r\n"u8.ToArray());
            }

            await WaitUntil(() => gate.Running == 2, "both exports running");
            await Task.Delay(500);
            Assert.Equal(2, gate.Running);

            foreach (var path in new[] { "/api/v1/cfg/export", "/api/v1/dsc/nodes", "/api/v1/cfg/nodes?where=/Arch=x86_64", "/cfg/nodes" })
            {
                using var refused = await d.Http.GetAsync(path);
                Assert.Equal(HttpStatusCode.ServiceUnavailable, refused.StatusCode);
                Assert.Equal("2", refused.Headers.GetValues("Retry-After").Single());
                Assert.Equal("application/problem+json", refused.Content.Headers.ContentType!.MediaType);
                var problem = JsonDocument.Parse(await refused.Content.ReadAsStringAsync()).RootElement;
                Assert.Equal("Too many large answers", problem.GetProperty("title").GetString());
                Assert.Contains("Api:MaxConcurrentExports", problem.GetProperty("detail").GetString(), StringComparison.Ordinal);
            }

            // Named nodes are an ordinary answer, not held to the limit.
            Assert.Equal(HttpStatusCode.OK, (await d.Http.GetAsync($"/api/v1/cfg/nodes?id={TestDaemon.N101}")).StatusCode);
            Assert.Equal(4, gate.Refused);
            Assert.Contains("kraken_api_large_responses_refused_total 4", await d.Http.GetStringAsync("/metrics"), StringComparison.Ordinal);
        }
        finally
        {
            // Gone mid-answer, with a reset: their places must come back.
            foreach (var s in stalled)
            {
                s.LingerState = new LingerOption(true, 0);
                s.Dispose();
            }
        }

        await WaitUntil(() => gate.Running == 0, "the stalled exports' places freed");
        var export = await d.Http.GetByteArrayAsync("/api/v1/cfg/export");
        Assert.Equal(expectedLength, export.Length);
    }

    /// <summary>Imports <paramref name="count"/> nodes under the root, with enough in them to make a large export.</summary>
    private static async Task ImportAsync(TestDaemon d, int count)
    {
        var json = new StringBuilder("{\"format\":\"kraken-state/1\",\"nodes\":[");
        for (var i = 1; i <= count; i++)
        {
            json.Append(i > 1 ? "," : string.Empty)
                .Append($"{{\"id\":\"00000000-0000-4000-b000-{i:x12}\",\"nodename\":\"compute-node-with-a-long-name-{i:D6}\",\"parentId\":\"{TestDaemon.RootId}\",\"arch\":\"x86_64\",\"platform\":\"test-platform-{i % 7}\"}}");
        }

        json.Append("]}");
        using var content = new StringContent(json.ToString(), Encoding.UTF8, "application/json");
        var response = await d.Authorized.PostAsync("/api/v1/cfg/import", content);
        Assert.True(response.IsSuccessStatusCode, await response.Content.ReadAsStringAsync());
    }

    /// <summary>{"nodes": [...]} as the API wrote it whole before it streamed.</summary>
    private static byte[] Compact(IEnumerable<NodeRecord> nodes, Action<Utf8JsonWriter, NodeRecord> write)
    {
        var buffer = new ArrayBufferWriter<byte>();
        using (var w = new Utf8JsonWriter(buffer, ApiSupport.WriterOptions))
        {
            w.WriteStartObject();
            w.WriteStartArray("nodes");
            foreach (var n in nodes)
            {
                write(w, n);
            }

            w.WriteEndArray();
            w.WriteEndObject();
        }

        return buffer.WrittenSpan.ToArray();
    }

    private static async Task WaitUntil(Func<bool> condition, string what)
    {
        var elapsed = Stopwatch.StartNew();
        while (!condition())
        {
            Assert.True(elapsed.Elapsed < TimeSpan.FromSeconds(60), $"timed out waiting for {what}");
            await Task.Delay(20);
        }
    }
}
