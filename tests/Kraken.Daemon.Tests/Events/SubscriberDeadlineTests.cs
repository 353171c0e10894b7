// Long-lived subscribers on loopback: a stalled subscriber (SSE, WebSocket, the original's /ws) is dropped at the
// write deadline while a healthy one keeps receiving; one that falls behind its buffer is dropped and counted;
// abrupt WebSocket disconnects log one line each and no stack trace.
using System.Collections.Concurrent;
using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using System.Net.WebSockets;
using Kraken.Daemon.Events;
using Kraken.Tree.State;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;

namespace Kraken.Daemon.Tests.Events;

[Trait("Category", "Network")]
public sealed class SubscriberDeadlineTests
{
    private static readonly NodeId s_node = NodeId.Parse(TestDaemon.N101, null);

    [Theory]
    [InlineData("sse")]
    [InlineData("websocket")]
    [InlineData("legacy-ws")]
    public async Task A_stalled_subscriber_is_dropped_at_the_write_deadline_while_a_healthy_one_keeps_receiving(string transport)
    {
        // A buffer large enough that the stalled client cannot overflow first: what ends it must be the deadline.
        await using var d = await TestDaemon.StartRootAsync(extra: ["--Reconcile:StartFrozen=true", "--Api:EventWriteTimeout=00:00:01", "--Api:EventBuffer=1000000"]);
        var hub = d.Services.GetRequiredService<EventHub>();
        using var cts = new CancellationTokenSource(TimeSpan.FromSeconds(120));

        using var response = await d.Http.GetAsync("/api/v1/events?type=state&view=dsc", HttpCompletionOption.ResponseHeadersRead, cts.Token);
        using var reader = new StreamReader(await response.Content.ReadAsStreamAsync(cts.Token));
        Assert.Equal(": subscribed", await reader.ReadLineAsync(cts.Token));
        var received = 0;
        var healthy = Task.Run(async () =>
        {
            while (await reader.ReadLineAsync(cts.Token) is { } line)
            {
                if (line == "event: state")
                {
                    Interlocked.Increment(ref received);
                }
            }
        });

        // The stalled client: a small receive window, a subscription, and never a read.
        using var stalled = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp) { ReceiveBufferSize = 4096 };
        await stalled.ConnectAsync(IPAddress.Loopback, new Uri(d.Url).Port, cts.Token);
        await stalled.SendAsync(StalledRequest(transport), cts.Token);
        await WaitUntil(() => hub.ClientCount == 2, "both subscribers registered", cts.Token);

        // About 16 MB of events of 400 bytes (a node name holds at most 253): more than the stalled connection's
        // socket buffers (at most 4 MB sending, a 4 KiB window receiving) and the server's response buffer hold,
        // so a write to it blocks.
        const int Events = 40_000;
        var padding = new string('x', 240);
        for (var i = 0; i < Events; i++)
        {
            d.Daemon.Store.Set(StateView.Dsc, s_node, "/Nodename", $"{padding}{i}");
        }

        // Dropped by the deadline (1 s after its write blocked), not by an overflow; without a deadline it stays.
        var burstEnd = Stopwatch.StartNew();
        await WaitUntil(() => hub.DroppedDeadline == 1, "the stalled subscriber dropped", cts.Token, TimeSpan.FromSeconds(60));
        Assert.True(burstEnd.Elapsed < TimeSpan.FromSeconds(30), $"dropped {burstEnd.Elapsed.TotalSeconds:F1} s after the last event");
        Assert.Equal(0, hub.DroppedOverflow);

        // The server aborted the stalled connection: reading ends in EOF or a reset, not a wait.
        var buffer = new byte[65536];
        using (var readLimit = CancellationTokenSource.CreateLinkedTokenSource(cts.Token))
        {
            readLimit.CancelAfter(TimeSpan.FromSeconds(20));
            try
            {
                while (await stalled.ReceiveAsync(buffer, readLimit.Token) > 0)
                {
                }
            }
            catch (SocketException)
            {
            }
        }

        Assert.False(cts.IsCancellationRequested, "the stalled connection is still open");

        // The healthy subscriber got every event, and gets the next one.
        await WaitUntil(() => Volatile.Read(ref received) == Events, $"all {Events} events at the healthy subscriber (has {Volatile.Read(ref received)})", cts.Token);
        d.Daemon.Store.Set(StateView.Dsc, s_node, "/Nodename", "after");
        await WaitUntil(() => Volatile.Read(ref received) == Events + 1, "the event after the drop", cts.Token);
        Assert.Equal(1, hub.ClientCount);

        var metrics = await d.Http.GetStringAsync("/metrics", cts.Token);
        Assert.Contains("kraken_api_subscribers_dropped_total{reason=\"deadline\"} 1", metrics, StringComparison.Ordinal);
        Assert.Contains("kraken_api_subscribers_dropped_total{reason=\"overflow\"} 0", metrics, StringComparison.Ordinal);
        await cts.CancelAsync();
        await Task.WhenAny(healthy);
    }

    /// <summary>What the stalled client sends: an SSE request, or a WebSocket upgrade (and for /ws its subscribe command).</summary>
    private static byte[] StalledRequest(string transport)
    {
        const string Upgrade = "Upgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n";
        var request = transport switch
        {
            "sse" => "GET /api/v1/events?type=state&view=dsc HTTP/1.1\r\nHost: localhost\r\n\r\n"u8.ToArray(),
            "websocket" => System.Text.Encoding.ASCII.GetBytes($"GET /api/v1/events/ws?type=state&view=dsc HTTP/1.1\r\nHost: localhost\r\n{Upgrade}\r\n"),
            _ => System.Text.Encoding.ASCII.GetBytes($"GET /ws HTTP/1.1\r\nHost: localhost\r\n{Upgrade}\r\n"),
        };
        if (transport != "legacy-ws")
        {
            return request;
        }

        // The original's subscribe command in one masked text frame; a zero mask leaves the payload as it is.
        var command = "{\"command\":0,\"type\":\"ALL\"}"u8.ToArray();
        return [.. request, 0x81, (byte)(0x80 | command.Length), 0, 0, 0, 0, .. command];
    }

    [Fact]
    public async Task A_subscriber_that_overflows_its_buffer_is_dropped_and_counted()
    {
        await using var d = await TestDaemon.StartRootAsync(extra: ["--Reconcile:StartFrozen=true", "--Api:EventBuffer=16"]);
        var hub = d.Services.GetRequiredService<EventHub>();
        using var cts = new CancellationTokenSource(TimeSpan.FromSeconds(60));
        using var response = await d.Http.GetAsync("/api/v1/events?type=state&view=dsc", HttpCompletionOption.ResponseHeadersRead, cts.Token);
        using var reader = new StreamReader(await response.Content.ReadAsStreamAsync(cts.Token));
        Assert.Equal(": subscribed", await reader.ReadLineAsync(cts.Token));

        // One batch: 200 events arrive under the store's lock, faster than any client can take them.
        d.Daemon.Store.Batch(s =>
        {
            for (var i = 0; i < 200; i++)
            {
                s.Set(StateView.Dsc, s_node, "/Nodename", $"n{i}");
            }
        });

        var lines = new List<string>();
        while (await reader.ReadLineAsync(cts.Token) is { } line)
        {
            lines.Add(line);
        }

        Assert.Equal("event: overflow", lines.Where(l => l.StartsWith("event: ", StringComparison.Ordinal)).Last());
        Assert.True(lines.Count(l => l == "event: state") <= 17);
        await WaitUntil(() => hub.ClientCount == 0, "the subscriber removed", cts.Token);
        Assert.Equal((1L, 0L), (hub.DroppedOverflow, hub.DroppedDeadline));
        Assert.Contains("kraken_api_subscribers_dropped_total{reason=\"overflow\"} 1", await d.Http.GetStringAsync("/metrics", cts.Token), StringComparison.Ordinal);
    }

    [Fact]
    public async Task Abrupt_websocket_disconnects_log_one_line_each_without_a_stack_trace()
    {
        var logs = new CapturedLogs();
        await using var d = await TestDaemon.StartRootAsync(
            services: s => s.AddSingleton<ILoggerProvider>(logs),
            extra: ["--Reconcile:StartFrozen=true", "--Logging:LogLevel:Kraken.Daemon.Events=Debug"]);
        var hub = d.Services.GetRequiredService<EventHub>();
        using var cts = new CancellationTokenSource(TimeSpan.FromSeconds(120));
        var ws = d.Url.Replace("http", "ws", StringComparison.Ordinal);

        // Both WebSocket paths: the original's /ws (which also reads commands) and /api/v1/events/ws (send only).
        const int Clients = 12;
        for (var i = 0; i < Clients; i++)
        {
            var client = new ClientWebSocket();
            await client.ConnectAsync(new Uri(ws + (i % 2 == 0 ? "/ws" : "/api/v1/events/ws?type=state")), cts.Token);
            if (i % 2 == 0)
            {
                await client.SendAsync("{\"command\":0,\"type\":\"ALL\"}"u8.ToArray(), WebSocketMessageType.Text, true, cts.Token);
            }

            await WaitUntil(() => hub.ClientCount == 1, "the client subscribed", cts.Token);
            await Task.Delay(50, cts.Token);

            // Gone without a close frame; events follow, so a sender that does not read notices too.
            client.Abort();
            client.Dispose();
            var n = 0;
            while (hub.ClientCount > 0)
            {
                d.Daemon.Store.Set(StateView.Dsc, s_node, "/Nodename", $"c{i}-{n++}");
                await Task.Delay(20, cts.Token);
                Assert.False(cts.IsCancellationRequested, "a disconnected client is still subscribed");
            }
        }

        // Each disconnect: exactly one line from the event hub, and nothing anywhere with an exception attached.
        await Task.Delay(200, cts.Token);
        var entries = logs.Entries.ToList();
        Assert.Empty(entries.Where(e => e.Exception is not null).Select(e => $"{e.Category}: {e.Message}: {e.Exception}"));
        Assert.Empty(entries.Where(e => e.Level >= LogLevel.Warning).Select(e => $"{e.Category}: {e.Message}"));
        var left = entries.Where(e => e.Category == typeof(EventHub).FullName && e.EventId == 712).ToList();
        Assert.Equal(Clients, left.Count);
        Assert.All(left, e =>
        {
            Assert.Equal(LogLevel.Debug, e.Level);
            Assert.DoesNotContain('\n', e.Message);
            Assert.Contains("left", e.Message, StringComparison.Ordinal);
        });
    }

    private static async Task WaitUntil(Func<bool> condition, string what, CancellationToken ct, TimeSpan? limit = null)
    {
        var deadline = Stopwatch.StartNew();
        while (!condition())
        {
            Assert.True(deadline.Elapsed < (limit ?? TimeSpan.FromSeconds(60)) && !ct.IsCancellationRequested, $"timed out waiting for {what}");
            await Task.Delay(20, CancellationToken.None);
        }
    }

    private sealed record Entry(string Category, LogLevel Level, int EventId, string Message, Exception? Exception);

    /// <summary>Every log entry the daemon writes, from every category, at the levels configuration lets through.</summary>
    private sealed class CapturedLogs : ILoggerProvider
    {
        public ConcurrentQueue<Entry> Entries { get; } = new();

        public ILogger CreateLogger(string categoryName) => new Logger(this, categoryName);

        public void Dispose()
        {
        }

        private sealed class Logger(CapturedLogs owner, string category) : ILogger
        {
            public IDisposable? BeginScope<TState>(TState state)
                where TState : notnull => null;

            public bool IsEnabled(LogLevel logLevel) => true;

            public void Log<TState>(LogLevel logLevel, EventId eventId, TState state, Exception? exception, Func<TState, Exception?, string> formatter) =>
                owner.Entries.Enqueue(new Entry(category, logLevel, eventId.Id, formatter(state, exception), exception));
        }
    }
}
