// Long-lived subscribers on loopback: one that falls behind its buffer is dropped and counted; abrupt WebSocket
// disconnects log one line each and no stack trace.
using System.Collections.Concurrent;
using System.Diagnostics;
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
